// Follows the hosts' heartbeats (docs/multi-host.md): a host silent for
// FORKD_HOST_DOWN_SEC is down (its Host row says so, placement skips it, its
// containers show `lost`); when it announces itself again it is up, and the
// reconciler runs at once so its containers return to their real state (VMs
// it adopted) or are marked failed (VMs that did not survive).
import { HOST_HEARTBEAT_MS } from '../../contracts/jobs.js';
import { errorFields } from '../../contracts/logger.js';
import type { PrismaClient } from '../db/client.js';
import type { HostJobs } from '../host-jobs.js';

export interface HostWatchLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export type HostTransition = { hostId: string; to: 'up' | 'down' };

/** What changed between two looks at the hosts; a host seen for the first time is no change. */
export function hostTransitions(before: ReadonlyMap<string, boolean>, now: ReadonlyArray<{ hostId: string; up: boolean }>): HostTransition[] {
  const out: HostTransition[] = [];
  for (const h of now) {
    const was = before.get(h.hostId);
    if (was !== undefined && was !== h.up) out.push({ hostId: h.hostId, to: h.up ? 'up' : 'down' });
  }
  return out;
}

/** Looks every heartbeat; returns the stop. `onBack` is the reconcile round (never throws into the loop). */
export function startHostWatch(deps: { db: PrismaClient; hostJobs: Pick<HostJobs, 'listHosts'>; log: HostWatchLog; onBack: () => Promise<unknown> }, everyMs = HOST_HEARTBEAT_MS): () => Promise<void> {
  const known = new Map<string, boolean>();
  let last: Promise<unknown> = Promise.resolve();
  const look = async (): Promise<void> => {
    const hosts = await deps.hostJobs.listHosts();
    const changes = hostTransitions(known, hosts);
    for (const h of hosts) known.set(h.hostId, h.up);
    for (const c of changes) {
      await deps.db.host.updateMany({ where: { id: c.hostId }, data: { state: c.to } });
      if (c.to === 'down') deps.log.warn('host is down: no heartbeat; nothing is placed there and its containers show lost', { host: c.hostId });
      else deps.log.info('host is back up: reconciling its VMs and containers', { host: c.hostId });
    }
    if (changes.some((c) => c.to === 'up')) await deps.onBack();
  };
  const tick = () => { last = look().catch((err: unknown) => deps.log.warn('host watch: a look at the hosts failed', errorFields(err))); };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await last;
  };
}
