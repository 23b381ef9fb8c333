// The volume disks, with the host's real mke2fs (e2fsprogs, which forkd's
// bootstrap installs). Nothing is mounted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { mke2fsArgs, VolumeStore } from './volume-store.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'forkd-volume-store-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hasMke2fs = (() => { try { execFileSync('mke2fs', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; } })();

describe.skipIf(!hasMke2fs)('VolumeStore', () => {
  it('makes a sparse ext4 file of the asked size, once', async () => {
    const store = new VolumeStore(join(dir, 'volumes'));
    expect(await store.create('v1', 64)).toBe(true);
    const path = store.pathOf('v1');
    const st = statSync(path);
    expect(st.size).toBe(64 * 1024 * 1024);
    expect(st.blocks * 512).toBeLessThan(st.size / 2); // sparse: most of it never written
    expect(execFileSync('dumpe2fs', ['-h', path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()).toMatch(/Filesystem magic number:\s+0xEF53/);
    expect(await store.create('v1', 64)).toBe(false); // a retried job keeps the disk
    expect(readdirSync(join(dir, 'volumes'))).toEqual(['v1.img']);
  });

  it('leaves nothing behind when formatting fails', async () => {
    const store = new VolumeStore(join(dir, 'volumes'));
    const path = process.env['PATH'];
    process.env['PATH'] = join(dir, 'empty'); // no mke2fs here
    try {
      await expect(store.create('v2', 64)).rejects.toThrow(/formatting volume v2/);
    } finally {
      process.env['PATH'] = path;
    }
    expect(readdirSync(join(dir, 'volumes'))).toEqual([]);
    // Positive control: with mke2fs back it works.
    expect(await store.create('v2', 64)).toBe(true);
  });

  it('deletes the disk, idempotently', async () => {
    const store = new VolumeStore(join(dir, 'volumes'));
    await store.create('v3', 16);
    expect(await store.delete('v3')).toBe(true);
    expect(await store.delete('v3')).toBe(false);
    expect(store.has('v3')).toBe(false);
  });

  it('refuses ids that could leave the folder and sizes out of bounds', async () => {
    const store = new VolumeStore(join(dir, 'volumes'));
    expect(() => store.pathOf('../x')).toThrow(ForkdError);
    await expect(store.create('v4', 1)).rejects.toMatchObject({ field: 'sizeMib' });
    expect(mke2fsArgs('/f')).toEqual(expect.arrayContaining(['-t', 'ext4', '/f']));
  });
});
