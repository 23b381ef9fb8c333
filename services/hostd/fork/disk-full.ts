// A full disk while a live fork writes (the RAM stream, the disk copy, the
// freezer's memory file) must read as that, not as "migration failed". Two
// writers can hit it: hostd itself (ENOSPC on its own call) and QEMU (a failed
// migration whose error text carries strerror(ENOSPC), or a freezer killed by
// SIGBUS when its shared RAM file cannot grow, which says nothing of why). So
// the error is looked at first, and the filesystem's free space second.
import { statfs } from 'node:fs/promises';
import { ForkdError } from '../../contracts/errors.js';

/** Below this much free space a failed write counts as a full disk: QEMU's last write may have wanted more than what is left. */
export const NEARLY_FULL_BYTES = 4 * 1024 * 1024;

/** Whether `err` says "no space", or failed on a filesystem with under NEARLY_FULL_BYTES free (`freeBytes`, null: unknown). */
export function isDiskFull(err: unknown, freeBytes: number | null): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') return true;
  if (/no space left on device|ENOSPC|disk quota exceeded/i.test(String(e?.message ?? err))) return true;
  return freeBytes !== null && freeBytes < NEARLY_FULL_BYTES;
}

/** Bytes an unprivileged writer may still write in `dir`'s filesystem; null when it cannot be read. */
export async function freeBytesIn(dir: string): Promise<number | null> {
  const s = await statfs(dir).catch(() => null);
  return s === null ? null : s.bavail * s.bsize;
}

/** ERR_HOST_DISK_FULL for `err` when it was a full disk under `dir` while writing `what`; null when it was something else. */
export async function diskFullError(err: unknown, dir: string, what: string): Promise<ForkdError | null> {
  if (err instanceof ForkdError && err.code === 'ERR_HOST_DISK_FULL') return err;
  const free = await freeBytesIn(dir);
  if (!isDiskFull(err, free)) return null;
  const why = (err as Error)?.message ?? String(err);
  return new ForkdError('ERR_HOST_DISK_FULL', `the host's disk is full: writing ${what} in ${dir} failed (${free === null ? 'free space unknown' : `${Math.floor(free / 1024)} KiB free`}): ${why}`, { detail: { path: dir, freeBytes: free }, cause: err });
}
