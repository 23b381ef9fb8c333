// A container's first output, the way a user sees it: (import the image,)
// create a busybox container that prints `ready` and then sleeps, start it, and
// follow its log until the first stdout line reaches the host. The container
// keeps running (idle `sleep`), so a VM measured later for memory has one.

import type { AgentClient, HostImage } from '../../services/hostd/agent/agent-client.js';

export const READY_LINE = 'ready';
export const CONTAINER_COMMAND = ['sh', '-c', `echo ${READY_LINE}; exec sleep 1000000`];

export interface ContainerTimings {
  importMs: number;
  createMs: number;
  startMs: number;
  /** From the start call returning to the first stdout bytes on the host. */
  outputMs: number;
}

export async function containerFirstOutput(
  agent: AgentClient,
  image: HostImage,
  id: string,
  opts: { importImage: boolean; timeoutMs?: number },
): Promise<ContainerTimings> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const t0 = Date.now();
  if (opts.importImage) await agent.importImage(image, { timeoutMs });
  const t1 = Date.now();
  await agent.call('container.create', { id, image: image.id, command: CONTAINER_COMMAND }, { timeoutMs });
  const t2 = Date.now();
  await agent.call('container.start', { id }, { timeoutMs });
  const t3 = Date.now();
  const logs = agent.logs({ id, follow: true }, { timeoutMs });
  logs.result.catch(() => undefined); // cancelled below; its rejection says only that
  let seen = false;
  try {
    for await (const rec of logs.records) {
      if (rec.stream === 'stdout') {
        seen = true;
        break;
      }
    }
  } finally {
    logs.cancel();
  }
  if (!seen) throw new Error(`container ${id}: its log ended without stdout`);
  return { importMs: t1 - t0, createMs: t2 - t1, startMs: t3 - t2, outputMs: Date.now() - t3 };
}

/**
 * One ping on the established agent connection, after the measured steps: what
 * a single request/reply costs (the handshake behind "ready" is two of them,
 * hello and ping).
 */
export async function agentRoundTrip(agent: AgentClient): Promise<number> {
  const t0 = performance.now();
  await agent.call('ping', {}, { timeoutMs: 30_000 });
  return Math.round(performance.now() - t0);
}
