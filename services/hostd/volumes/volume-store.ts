// The disks of tenant volumes on this host: one sparse raw file per volume,
// `<dataDir>/volumes/<volumeId>.img`, formatted ext4 by mke2fs and never
// mounted on the host (only a guest mounts it). A create is made under a
// temporary name and renamed into place, so a failed create leaves no disk.
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ForkdError } from '../../contracts/errors.js';
import { VOLUME_SIZE_MIB } from '../../contracts/jobs.js';
import type { Logger } from '../../contracts/logger.js';
import { makePassableForQemu } from '../qemu-access.js';

const run = promisify(execFile);

/** Volume ids name files: the API's uuids, and nothing that could leave the folder. */
const VOLUME_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function assertVolumeId(volumeId: string): void {
  if (typeof volumeId !== 'string' || !VOLUME_ID_RE.test(volumeId)) {
    throw new ForkdError('ERR_VALIDATION', `invalid volume id ${JSON.stringify(volumeId)}`, { field: 'volumeId' });
  }
}

/**
 * The mke2fs arguments for a volume. No reserved blocks (the whole disk is the
 * tenant's data), lazy inode tables (a 1 TiB sparse file formats in a second),
 * no discard pass (the file is sparse already).
 */
export function mke2fsArgs(path: string): string[] {
  return ['-q', '-F', '-t', 'ext4', '-m', '0', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', path];
}

export class VolumeStore {
  constructor(readonly dir: string, private readonly log?: Logger) {}

  pathOf(volumeId: string): string {
    assertVolumeId(volumeId);
    return join(this.dir, `${volumeId}.img`);
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    // QEMU opens the disk by path as its own user: the folders on the way must be passable.
    await makePassableForQemu([this.dir, dirname(this.dir)], this.log);
  }

  has(volumeId: string): boolean {
    return existsSync(this.pathOf(volumeId));
  }

  /** Makes the disk; false when it exists already (a retried job). */
  async create(volumeId: string, sizeMib: number): Promise<boolean> {
    const path = this.pathOf(volumeId);
    if (!Number.isInteger(sizeMib) || sizeMib < VOLUME_SIZE_MIB.min || sizeMib > VOLUME_SIZE_MIB.max) {
      throw new ForkdError('ERR_VALIDATION', `sizeMib must be an integer from ${VOLUME_SIZE_MIB.min} to ${VOLUME_SIZE_MIB.max}`, { field: 'sizeMib' });
    }
    if (existsSync(path)) return false;
    await this.init();
    const tmp = `${path}.creating`;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.truncate(sizeMib * 1024 * 1024); // sparse: no block is written until the guest writes one
      } finally {
        await fh.close();
      }
      await run('mke2fs', mke2fsArgs(tmp), { timeout: 120_000 }).catch((err: Error & { stderr?: string }) => {
        throw new ForkdError('ERR_INTERNAL', `formatting volume ${volumeId} (mke2fs): ${(err.stderr || err.message).trim()}`, { cause: err });
      });
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    this.log?.info('volume disk created', { volume: volumeId, sizeMib });
    return true;
  }

  /** Deletes the disk; false when there was none. */
  async delete(volumeId: string): Promise<boolean> {
    const path = this.pathOf(volumeId);
    const had = existsSync(path);
    await rm(path, { force: true });
    await rm(`${path}.creating`, { force: true });
    if (had) this.log?.info('volume disk deleted', { volume: volumeId });
    return had;
  }
}
