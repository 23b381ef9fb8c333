// Room for a live fork, checked before the parent is paused: a fork that
// cannot finish must not cost the parent its pause. What one capture writes:
// the RAM stream (up to the guest's RAM, in `<dataDir>/fork-streams`), the
// fork point's memory file (up to the RAM again: QEMU skips zero pages, so it
// is usually less) and the copy of the parent's overlay (both in the fork
// point's directory). Counted at their largest, plus a margin per filesystem
// for device state, the manifest and other writers. The check can still race
// with others filling the disk, so the writes' own failures stay handled
// (disk-full.ts); this only spares the parent a pause that was bound to fail.
import { stat } from 'node:fs/promises';
import { ForkdError } from '../../contracts/errors.js';
import { freeBytesIn } from './disk-full.js';

/** Kept free on each filesystem a fork writes to, beyond what it writes: device state (~1 MiB), manifest, other writers. */
export const FORK_SPACE_MARGIN_BYTES = 64 * 1024 * 1024;

/** One thing the fork writes, and the filesystem it lands on. */
export interface ForkWrite {
  what: string;
  /** The directory it is written in. */
  dir: string;
  /** The filesystem's device (st_dev): writes on one filesystem add up. */
  dev: number;
  /** Free bytes on that filesystem for an unprivileged writer. */
  freeBytes: number;
  bytes: number;
}

export interface SpaceShortfall {
  /** The writes that land on the filesystem that lacks room. */
  what: string[];
  dir: string;
  needBytes: number;
  freeBytes: number;
}

/** The first filesystem where the writes plus `marginBytes` do not fit, or null when all fit. */
export function spaceShortfall(writes: ForkWrite[], marginBytes = FORK_SPACE_MARGIN_BYTES): SpaceShortfall | null {
  const byDev = new Map<number, ForkWrite[]>();
  for (const w of writes) byDev.set(w.dev, [...(byDev.get(w.dev) ?? []), w]);
  for (const group of byDev.values()) {
    const needBytes = group.reduce((sum, w) => sum + w.bytes, 0) + marginBytes;
    const freeBytes = Math.min(...group.map((w) => w.freeBytes));
    if (needBytes > freeBytes) return { what: group.map((w) => w.what), dir: group[0]!.dir, needBytes, freeBytes };
  }
  return null;
}

const mib = (n: number): string => `${Math.ceil(n / 1024 / 1024)} MiB`;

/**
 * ERR_HOST_DISK_FULL (507) before anything is written or paused when the RAM
 * stream (in `streamDir`) and the fork point (in `forkPointParent`) would not
 * fit. `memoryBytes` is the guest's RAM, `diskBytes` the parent's overlay.
 */
export async function assertRoomForFork(o: { streamDir: string; forkPointParent: string; memoryBytes: number; diskBytes: number }): Promise<void> {
  const at = async (dir: string) => ({ dir, dev: (await stat(dir)).dev, freeBytes: (await freeBytesIn(dir)) ?? Number.POSITIVE_INFINITY });
  const [streams, points] = await Promise.all([at(o.streamDir), at(o.forkPointParent)]);
  const short = spaceShortfall([
    { what: 'the RAM stream', ...streams, bytes: o.memoryBytes },
    { what: "the fork point's memory file", ...points, bytes: o.memoryBytes },
    { what: "the copy of the parent's disk", ...points, bytes: o.diskBytes },
  ]);
  if (short === null) return;
  throw new ForkdError('ERR_HOST_DISK_FULL', `the host's disk is too full to fork: ${short.what.join(' and ')} would need up to ${mib(short.needBytes)} (with a ${mib(FORK_SPACE_MARGIN_BYTES)} margin) in ${short.dir}, which has ${mib(short.freeBytes)} free; the parent was not paused`, {
    detail: { path: short.dir, freeBytes: short.freeBytes, needBytes: short.needBytes },
  });
}
