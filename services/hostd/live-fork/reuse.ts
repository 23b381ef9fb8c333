// Re-fork reuse (docs/fork.md "Forking the same parent again"): a fork of a
// parent that was captured moments ago, and whose guest has written little
// since, takes its children from that capture instead of pausing the parent
// and writing its whole RAM again (a stream, a memory file, a freezer).
//
// Why reuse and not an incremental capture: the parent's RAM is a private
// mapping of its template's file, so QEMU 7.2 can only stream all of it; it
// keeps no dirty log between two migrations to send only what changed. And a
// fork point's memory file cannot be patched in place: its children map it
// privately, so pages they never wrote would change under them. What is left
// is to reuse the last capture when it is recent and the guest quiet, and
// to say so: the answer names the fork point, `reused: true` and `takenAt`,
// so the children are the parent as it was then (at most FORKD_FORK_REUSE_SEC
// ago). A request with `fresh: true` always captures.
//
// "Quiet" is measured, not assumed: QEMU's calc-dirty-rate (page-sampling:
// hashes of sampled pages before and after) over one second, times the capture's age,
// estimates what the guest changed since; above FORKD_FORK_REUSE_MAX_DIRTY_MIB
// it captures anew. A measurement that fails never reuses.
import type { Qmp } from '../fork/qmp.js';

/** A parent's last capture, kept in its vm.json so a restarted hostd knows it too. */
export interface LastForkPoint {
  id: string;
  /** ISO-8601: when the parent was paused for it. */
  takenAt: string;
}

export interface ReusePolicy {
  /** How old a capture may be and still be reused (ms); 0: never reuse. */
  windowMs: number;
  /** The most the guest may have written since, by estimate (MiB). */
  maxDirtyMib: number;
}

export type ReuseDecision = { reuse: true; ageMs: number; estimateMib: number } | { reuse: false; why: string };

/** Whether a capture `last` can still be reused now; the cheap part, before anything is measured. */
export function withinWindow(last: LastForkPoint | undefined, nowMs: number, policy: ReusePolicy): { ok: true; ageMs: number } | { ok: false; why: string } {
  if (policy.windowMs <= 0) return { ok: false, why: 'reuse is off (FORKD_FORK_REUSE_SEC=0)' };
  if (last === undefined) return { ok: false, why: 'no earlier capture' };
  const ageMs = nowMs - Date.parse(last.takenAt);
  if (!Number.isFinite(ageMs) || ageMs < 0) return { ok: false, why: `capture time ${last.takenAt} unusable` };
  if (ageMs > policy.windowMs) return { ok: false, why: `last capture ${Math.round(ageMs / 1000)} s old, over ${policy.windowMs / 1000} s` };
  return { ok: true, ageMs };
}

/**
 * The decision once the dirty rate is known (MiB/s, null: not measured).
 * The rate over the last second stands for the whole time since the capture
 * (plus the measuring second itself).
 */
export function decideReuse(ageMs: number, dirtyMibPerSec: number | null, measureMs: number, policy: ReusePolicy): ReuseDecision {
  if (dirtyMibPerSec === null) return { reuse: false, why: 'the dirty rate could not be measured' };
  const estimateMib = (dirtyMibPerSec * (ageMs + measureMs)) / 1000;
  if (estimateMib > policy.maxDirtyMib) return { reuse: false, why: `~${estimateMib.toFixed(1)} MiB written since the last capture, over ${policy.maxDirtyMib} MiB` };
  return { reuse: true, ageMs: ageMs + measureMs, estimateMib };
}

/** How long QEMU measures the dirty rate (QEMU 7.2 counts calc-time in whole seconds). */
export const DIRTY_RATE_SECONDS = 1;

/**
 * The guest's RAM write rate in MiB/s over DIRTY_RATE_SECONDS, from QEMU's
 * calc-dirty-rate in page-sampling mode (it hashes 512 sampled pages per GiB
 * before and after; RAM blocks under 128 MiB are skipped, so guests that small
 * read 0 and may reuse on the window alone). Not dirty-bitmap mode: under TCG
 * on QEMU 7.2 it crashed a parent that had been migrated to a file before
 * (seen in test/live-fork.test.ts). Null when QEMU cannot tell.
 */
export async function measureDirtyRate(qmp: Qmp, timeoutMs = 5000): Promise<number | null> {
  try {
    await qmp('calc-dirty-rate', { 'calc-time': DIRTY_RATE_SECONDS, mode: 'page-sampling' });
    const deadline = Date.now() + timeoutMs;
    await new Promise((r) => setTimeout(r, DIRTY_RATE_SECONDS * 1000));
    for (;;) {
      const r = (await qmp('query-dirty-rate')) as { status?: string; 'dirty-rate'?: number };
      // QEMU reports MB/s as it computes them: (pages × 4 KiB) >> 20 per second, i.e. MiB/s.
      if (r.status === 'measured') return typeof r['dirty-rate'] === 'number' ? r['dirty-rate'] : null;
      if (Date.now() > deadline) return null;
      await new Promise((res) => setTimeout(res, 50));
    }
  } catch {
    return null; // no measurement, no reuse: the caller captures
  }
}
