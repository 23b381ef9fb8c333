// What a pod is allowed to hold, decided from its rows alone (pure, unit-tested
// in rules.test.ts): the pod's size and defaults, and whether one more
// container fits what the pod's other live containers already hold. The agent
// checks the same sums against the VM it runs in (services/agent/pod-fit.ts).
import { ForkdError } from '../../contracts/errors.js';

/** Pod lifecycle: 'creating' while its VM is forked, 'running' once it is up, 'failed' when the fork failed. */
export const POD_STATES = ['creating', 'running', 'failed'] as const;
export type PodState = (typeof POD_STATES)[number];

export const POD_DEFAULTS = { vcpus: 1, memoryMib: 512, pids: 1024 } as const;
/** What the pod's kernel and agent keep for themselves: containers' limits share the rest. */
export const POD_RESERVED_MIB = 96;
/** A pod container's limits when the request gives none (each container is always limited in a pod, so fit is decidable). */
export const POD_CONTAINER_DEFAULTS = { memoryMib: 64, pids: 128 } as const;
export const POD_BOUNDS = { vcpus: { min: 1, max: 16 }, memoryMib: { min: 192, max: 65_536 }, pids: { min: 16, max: 65_536 } } as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export interface PodSize { vcpus: number; memoryMib: number; pids: number }

/** The pod's size from a create body: defaults filled, bounds checked (ERR_VALIDATION naming the field). */
export function podSize(body: { name?: unknown; vcpus?: unknown; memoryMib?: unknown; pids?: unknown }): PodSize & { name: string } {
  if (typeof body.name !== 'string' || !NAME_RE.test(body.name)) {
    throw new ForkdError('ERR_VALIDATION', 'name must be 1-63 characters of [A-Za-z0-9_.-], starting with a letter or digit', { field: 'name' });
  }
  const size = {
    vcpus: intIn('vcpus', body.vcpus ?? POD_DEFAULTS.vcpus, POD_BOUNDS.vcpus),
    memoryMib: intIn('memoryMib', body.memoryMib ?? POD_DEFAULTS.memoryMib, POD_BOUNDS.memoryMib),
    pids: intIn('pids', body.pids ?? POD_DEFAULTS.pids, POD_BOUNDS.pids),
  };
  return { name: body.name, ...size };
}

function intIn(field: string, v: unknown, b: { min: number; max: number }): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < b.min || v > b.max) {
    throw new ForkdError('ERR_VALIDATION', `${field} must be an integer from ${b.min} to ${b.max}`, { field });
  }
  return v;
}

/** A container's limits in a pod: the request's, or the defaults. */
export function podContainerLimits(req: { memoryMib?: number | undefined; pids?: number | undefined }): { memoryMib: number; pids: number } {
  return { memoryMib: req.memoryMib ?? POD_CONTAINER_DEFAULTS.memoryMib, pids: req.pids ?? POD_CONTAINER_DEFAULTS.pids };
}

/**
 * ERR_CONFLICT (409) naming `memoryMib` or `pids` when `want` does not fit
 * beside `others` (the limits of the pod's containers that still hold theirs:
 * created or running). Memory available to containers is the pod's minus
 * POD_RESERVED_MIB.
 */
export function assertFitsPod(pod: { name: string; memoryMib: number; pids: number }, others: ReadonlyArray<{ memoryMib: number; pids: number }>, want: { memoryMib: number; pids: number }): void {
  const usedMib = others.reduce((n, c) => n + c.memoryMib, 0);
  const freeMib = pod.memoryMib - POD_RESERVED_MIB - usedMib;
  if (want.memoryMib > freeMib) {
    throw new ForkdError('ERR_CONFLICT', `memoryMib ${want.memoryMib} does not fit in pod ${pod.name}: ${Math.max(0, freeMib)} MiB of its ${pod.memoryMib} MiB are free (${POD_RESERVED_MIB} MiB kept for the guest, ${usedMib} MiB held by its containers)`, {
      field: 'memoryMib', detail: { pod: pod.name, limit: 'memoryMib', freeMib: Math.max(0, freeMib), podMemoryMib: pod.memoryMib },
    });
  }
  const usedPids = others.reduce((n, c) => n + c.pids, 0);
  const freePids = pod.pids - usedPids;
  if (want.pids > freePids) {
    throw new ForkdError('ERR_CONFLICT', `pids ${want.pids} does not fit in pod ${pod.name}: ${Math.max(0, freePids)} of its ${pod.pids} pids are free`, {
      field: 'pids', detail: { pod: pod.name, limit: 'pids', freePids: Math.max(0, freePids), podPids: pod.pids },
    });
  }
}

/**
 * A resize request against the pod's size: the same size answers as it is;
 * any change is ERR_CONFLICT (409) naming the first field that differs. A
 * pod's VM is a copy-on-write fork of a template of its size, and memory or
 * CPU hot-plug into forked guests is not offered (docs/pods.md, "Resizing").
 */
export function assertSameSize(pod: PodSize & { name: string }, want: Partial<PodSize>): void {
  for (const field of ['memoryMib', 'vcpus', 'pids'] as const) {
    const v = want[field];
    if (v === undefined || v === pod[field]) continue;
    throw new ForkdError('ERR_CONFLICT',
      `pod ${pod.name}'s ${field} is fixed when the pod is made (${pod[field]}): its VM is a copy-on-write fork of a template of that size, and forkd does not hot-plug memory or CPUs into forked guests. Make a pod of the new size (forkd pod create NAME --memory MiB --vcpus N --pids N) and move the containers to it`,
      { field });
  }
}
