// The child's container id reaches the guest as the parent's, and comes back
// as the child's; every other id and method passes untouched.
import { describe, expect, it } from 'vitest';
import type { AgentClient } from '../agent/agent-client.js';
import { aliasContainer } from './guest-alias.js';

function fakeAgent() {
  const calls: Array<{ method: string; params: unknown }> = [];
  const agent = {
    connected: true,
    async call(method: string, params: unknown) {
      calls.push({ method, params });
      if (method === 'container.list') return { containers: [{ id: 'parent', status: 'running' }, { id: 'other', status: 'exited' }] };
      if (method === 'container.start') return { id: (params as { id: string }).id, pid: 7, container: { id: (params as { id: string }).id, status: 'running' } };
      return {};
    },
    exec(params: unknown) {
      calls.push({ method: 'exec', params });
      return { params };
    },
  };
  return { agent: agent as unknown as AgentClient, calls };
}

describe('aliasContainer', () => {
  it('sends the guest\'s id for the child\'s, and answers with the child\'s', async () => {
    const { agent, calls } = fakeAgent();
    const a = aliasContainer(agent, 'child', 'parent');
    expect(await a.call('container.start', { id: 'child' })).toEqual({ id: 'child', pid: 7, container: { id: 'child', status: 'running' } });
    expect(calls[0]).toEqual({ method: 'container.start', params: { id: 'parent' } });
    const listed = await a.call('container.list', {});
    expect(listed.containers.map((c) => c.id)).toEqual(['child', 'other']);
    a.exec({ id: 'child', command: ['true'] });
    expect(calls.at(-1)).toEqual({ method: 'exec', params: { id: 'parent', command: ['true'] } });
  });

  it('leaves other ids, other methods and properties alone (control: no alias is the agent itself)', async () => {
    const { agent, calls } = fakeAgent();
    const a = aliasContainer(agent, 'child', 'parent');
    await a.call('container.kill', { id: 'other' } as never);
    expect(calls[0]!.params).toEqual({ id: 'other' });
    expect(a.connected).toBe(true);
    expect(aliasContainer(agent, 'same', 'same')).toBe(agent);
  });
});
