// The room a live fork needs is checked before the parent pauses: writes on
// one filesystem add up, each filesystem keeps a margin, and the first one
// short is named.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertRoomForFork, spaceShortfall, type ForkWrite } from './fork-space.js';

const MiB = 1024 * 1024;
const w = (what: string, dev: number, freeMib: number, mib: number): ForkWrite => ({ what, dir: `/fs${dev}`, dev, freeBytes: freeMib * MiB, bytes: mib * MiB });

describe('spaceShortfall', () => {
  it('passes when every filesystem holds its writes plus the margin', () => {
    expect(spaceShortfall([w('stream', 1, 1000, 256), w('memory', 2, 1000, 256), w('disk', 2, 1000, 10)], 64 * MiB)).toBeNull();
  });

  it('adds up the writes that share a filesystem', () => {
    // 256 + 256 + 10 + 64 = 586 MiB on one filesystem with 500 free; apart, each would fit.
    expect(spaceShortfall([w('stream', 1, 500, 256), w('memory', 1, 500, 256), w('disk', 1, 500, 10)], 64 * MiB)).toEqual({ what: ['stream', 'memory', 'disk'], dir: '/fs1', needBytes: 586 * MiB, freeBytes: 500 * MiB });
    expect(spaceShortfall([w('stream', 1, 500, 256), w('memory', 2, 500, 256), w('disk', 2, 500, 10)], 64 * MiB)).toBeNull();
  });

  it('counts the margin: exactly the writes free is not enough, writes plus margin is', () => {
    expect(spaceShortfall([w('stream', 1, 256, 256)], 64 * MiB)?.what).toEqual(['stream']);
    expect(spaceShortfall([w('stream', 1, 320, 256)], 64 * MiB)).toBeNull();
  });

  it('names the filesystem that is short, not one that has room', () => {
    // A 16 MiB tmpfs for streams (the fault test's) and a roomy disk for fork points.
    expect(spaceShortfall([w('stream', 7, 16, 256), w('memory', 1, 50_000, 256), w('disk', 1, 50_000, 10)], 64 * MiB)).toMatchObject({ what: ['stream'], dir: '/fs7' });
  });
});

describe('assertRoomForFork', () => {
  const dir = mkdtempSync(join(tmpdir(), 'forkd-fork-space-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes for a small guest on this disk (the control) and refuses one larger than any disk, with ERR_HOST_DISK_FULL naming the RAM stream', async () => {
    await expect(assertRoomForFork({ streamDir: dir, forkPointParent: dir, memoryBytes: 1 * MiB, diskBytes: 0 })).resolves.toBeUndefined();
    await expect(assertRoomForFork({ streamDir: dir, forkPointParent: dir, memoryBytes: 2 ** 60, diskBytes: 0 })).rejects.toMatchObject({
      code: 'ERR_HOST_DISK_FULL',
      message: expect.stringMatching(/RAM stream.*parent was not paused/),
      detail: { path: dir },
    });
  });
});
