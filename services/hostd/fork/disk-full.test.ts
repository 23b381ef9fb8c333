// A full disk reads as ERR_HOST_DISK_FULL whoever hit it: hostd (ENOSPC),
// QEMU (its words in a failed migration) or a freezer that died silently on
// a filesystem with nothing left; any other failure stays what it was.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { diskFullError, isDiskFull, NEARLY_FULL_BYTES } from './disk-full.js';

const dir = mkdtempSync(join(tmpdir(), 'forkd-disk-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('isDiskFull', () => {
  it('knows ENOSPC by code and by QEMU\'s words', () => {
    expect(isDiskFull(Object.assign(new Error('write failed'), { code: 'ENOSPC' }), null)).toBe(true);
    expect(isDiskFull(new ForkdError('ERR_LIBVIRT', 'streaming the parent failed: Unable to write to file: No space left on device'), null)).toBe(true);
  });

  it('counts a silent failure on a filesystem with almost nothing free', () => {
    expect(isDiskFull(new Error('freezer exited'), NEARLY_FULL_BYTES - 1)).toBe(true);
  });

  it('leaves other failures alone (the control)', () => {
    expect(isDiskFull(new Error('freezer exited'), NEARLY_FULL_BYTES * 10)).toBe(false);
    expect(isDiskFull(new Error('freezer exited'), null)).toBe(false);
    expect(isDiskFull(Object.assign(new Error('denied'), { code: 'EACCES' }), null)).toBe(false);
  });
});

describe('diskFullError', () => {
  it('names the cause and the directory', async () => {
    const e = await diskFullError(Object.assign(new Error('ENOSPC: no space left on device, copyfile'), { code: 'ENOSPC' }), dir, 'the disk copy');
    expect(e?.code).toBe('ERR_HOST_DISK_FULL');
    expect(e?.message).toMatch(/disk is full: writing the disk copy in /);
    expect(e?.detail).toMatchObject({ path: dir });
  });

  it('is null for anything else on a filesystem with room', async () => {
    expect(await diskFullError(new ForkdError('ERR_LIBVIRT', 'freezer refused to start'), dir, 'the RAM stream')).toBeNull();
  });
});
