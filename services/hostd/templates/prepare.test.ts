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
    call: async (method: string, params: unknown) => { calls.push({ method, params }); return {}; },
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
    expect(calls[0]).toMatchObject({ method: 'container.create', params: { id: 'app-0', env } });
  });

  it('an envelope sealed for another template does not open, and nothing is created', async () => {
    const { agent, calls } = fakeAgent();
    await expect(prepareTemplate(agent, input('t1', 't2'), log, key)).rejects.toMatchObject({ code: 'ERR_SECRET_UNREADABLE' });
    expect(calls).toEqual([]);
    await prepareTemplate(agent, input('t2', 't2'), log, key); // positive control: its own template opens it
    expect(calls).toHaveLength(2);
  });
});
