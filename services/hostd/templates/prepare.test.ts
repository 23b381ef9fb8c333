import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TemplateBuildInput } from '../../contracts/jobs.js';
import { createLogger } from '../../contracts/logger.js';
import { appContainerSubject, sealEnv } from '../../contracts/secrets/index.js';
import type { AgentClient } from '../agent/agent-client.js';
import { prepareTemplate } from './prepare.js';

const key = randomBytes(32);
const log = createLogger('error');
const env = ['API_TOKEN=s3cr3t'];

/** An agent that records what it was asked. */
function fakeAgent() {
  const calls: Array<{ method: string; params: unknown }> = [];
  const agent = {
    importImage: async (image: { id: string }) => ({ id: image.id, sent: [], present: [] }),
    call: async (method: string, params: unknown) => { calls.push({ method, params }); return method === 'info' ? { hostname: 'vm-template' } : {}; },
  } as unknown as AgentClient;
  return { agent, calls };
}

function input(templateId: string, sealedFor: string): TemplateBuildInput {
  return {
    templateId, vcpus: 1, memoryMib: 256, poolSize: 0,
    image: { id: 'sha256:00', config: {}, layers: [] },
    containers: [{ containerId: 'app-0', spec: { command: ['sh'], env: sealEnv(key, appContainerSubject(sealedFor, 'app-0'), env), limits: {} } }],
  };
}

describe('prepareTemplate: app containers\' env', () => {
  it('arrives sealed and reaches the agent opened', async () => {
    const { agent, calls } = fakeAgent();
    await prepareTemplate(agent, input('t1', 't1'), log, key);
    expect(calls.find((c) => c.method === 'container.create')).toMatchObject({ method: 'container.create', params: { id: 'app-0', env } });
  });

  it('an envelope sealed for another template does not open, and nothing is created', async () => {
    const { agent, calls } = fakeAgent();
    await expect(prepareTemplate(agent, input('t1', 't2'), log, key)).rejects.toMatchObject({ code: 'ERR_SECRET_UNREADABLE' });
    expect(calls).toEqual([]);
    await prepareTemplate(agent, input('t2', 't2'), log, key); // positive control: its own template opens it
    expect(calls.filter((c) => c.method === 'container.create' || c.method === 'container.start')).toHaveLength(2);
  });
});

describe('prepareTemplate: app containers\' names', () => {
  it('names a lone app container after the template\'s VM, so each fork\'s identity.set renames it with its VM', async () => {
    const { agent, calls } = fakeAgent();
    await prepareTemplate(agent, input('t1', 't1'), log, key);
    expect(calls.find((c) => c.method === 'container.create')?.params).toMatchObject({ id: 'app-0', name: 'vm-template' });
  });

  it('leaves several app containers their own names (as a pod\'s members)', async () => {
    const { agent, calls } = fakeAgent();
    const two = input('t1', 't1');
    two.containers.push({ ...two.containers[0]!, containerId: 'app-1', spec: { ...two.containers[0]!.spec, env: sealEnv(key, appContainerSubject('t1', 'app-1'), env) } });
    await prepareTemplate(agent, two, log, key);
    const creates = calls.filter((c) => c.method === 'container.create');
    expect(creates).toHaveLength(2);
    for (const c of creates) expect(c.params).not.toHaveProperty('name');
    expect(calls.some((c) => c.method === 'info')).toBe(false);
  });
});
