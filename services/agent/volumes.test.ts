import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceBySerial, mountVolumes } from './volumes.js';

let dir: string;
let sysBlock: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'forkd-agent-volumes-'));
  sysBlock = join(dir, 'block');
  for (const [dev, serial] of [['vda', ''], ['vdb', '0190a1b2c3d47e5f8a9b\n'], ['vdc', 'other']] as const) {
    mkdirSync(join(sysBlock, dev), { recursive: true });
    writeFileSync(join(sysBlock, dev, 'serial'), serial);
  }
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('finding a volume disk', () => {
  it('goes by the serial in /sys/block/*/serial, whatever the device name', async () => {
    expect(await deviceBySerial(sysBlock, '0190a1b2c3d47e5f8a9b')).toBe('vdb');
    expect(await deviceBySerial(sysBlock, 'other')).toBe('vdc');
    expect(await deviceBySerial(sysBlock, 'missing')).toBeNull();
  });
});

describe('mounting volumes', () => {
  it('mounts each disk once under the mount root and returns the binds', async () => {
    const calls: string[][] = [];
    const binds = await mountVolumes(
      { sysBlock, mountRoot: join(dir, 'mnt'), mount: async (args) => { calls.push(args); } },
      [{ serial: '0190a1b2c3d47e5f8a9b', destination: '/data', readOnly: false }, { serial: 'other', destination: '/ro', readOnly: true }],
    );
    expect(binds).toEqual([
      { source: join(dir, 'mnt', '0190a1b2c3d47e5f8a9b'), destination: '/data', readOnly: false },
      { source: join(dir, 'mnt', 'other'), destination: '/ro', readOnly: true },
    ]);
    expect(calls[0]).toEqual(['-t', 'ext4', '-o', 'rw,noatime,nodelalloc,commit=1', '/dev/vdb', join(dir, 'mnt', '0190a1b2c3d47e5f8a9b')]);
    expect(calls[1]?.slice(0, 4)).toEqual(['-t', 'ext4', '-o', 'ro,noatime']);
  });

  it('retries a read-only mount without the journal, and reports a disk that never appears', async () => {
    const calls: string[][] = [];
    await mountVolumes({ sysBlock, mountRoot: join(dir, 'mnt'), mount: async (args) => { calls.push(args); if (calls.length === 1) throw new Error('journal needs recovery'); } },
      [{ serial: 'other', destination: '/ro', readOnly: true }]);
    expect(calls.map((c) => c[3])).toEqual(['ro,noatime', 'ro,noatime,noload']);
    await expect(mountVolumes({ sysBlock, mountRoot: join(dir, 'mnt'), timeoutMs: 0, pciRescan: join(dir, 'rescan'), mount: async () => undefined },
      [{ serial: 'nothere', destination: '/x', readOnly: false }])).rejects.toThrow(/did not appear/);
  });
});
