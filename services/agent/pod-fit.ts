// Several containers in one VM (a pod, docs/pods.md): the API decides from its
// rows whether a container fits the pod; the agent checks the same against the
// VM it actually runs in, so a bug or a race upstream cannot overcommit it.
// A lone container may use any limit (one-container VMs behave as always); a
// second one must fit, beside the live ones, in the memory the guest has.
import { readFile } from 'node:fs/promises';
import { AgentError } from '../contracts/agent-protocol/index.js';

export interface MemoryLimit { memoryMib?: number | undefined }

/** MemTotal of /proc/meminfo in MiB; null when unreadable (then nothing is refused). */
export function memTotalMib(meminfo: string): number | null {
  const kb = /^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  return kb === undefined ? null : Math.floor(Number(kb) / 1024);
}

/**
 * ERR_CONFLICT (field memoryMib) when `want` cannot sit beside `live` (the
 * limits of the containers not yet exited) in `totalMib`. With no live
 * container, no total known, or no limit wanted, anything goes (app templates
 * run unlimited containers side by side). A live container without a memory
 * limit counts as nothing.
 */
export function assertFitsBeside(live: readonly MemoryLimit[], want: MemoryLimit, totalMib: number | null): void {
  if (live.length === 0 || totalMib === null) return;
  const used = live.reduce((n, l) => n + (l.memoryMib ?? 0), 0);
  const need = want.memoryMib;
  if (need === undefined) return; // unlimited (an app template's containers): the API fills a limit for every pod container
  if (used + need > totalMib) {
    throw new AgentError('ERR_CONFLICT', `memoryMib ${need} does not fit in this VM: ${Math.max(0, totalMib - used)} of its ${totalMib} MiB are not held by other containers`, { field: 'memoryMib' });
  }
}

export async function readMemTotalMib(path = '/proc/meminfo'): Promise<number | null> {
  return memTotalMib(await readFile(path, 'utf8').catch(() => ''));
}
