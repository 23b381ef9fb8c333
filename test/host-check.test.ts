// The accelerator verdict: probed by booting a guest (KVM only if it really
// reaches userspace), cached per host, overridable, and never leaving a probe
// domain or directory behind.
import { readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, sharedCacheDataDir } from './harness.js';

const dataDir = sharedCacheDataDir('hostcheck');
unlinkSync(join(dataDir, 'host')); // this host's cached verdicts are exactly what is under test
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('forkd host check', () => {
  it('boots a probe guest, reports the accelerator and why, then answers from its cache', async () => {
    const first = await runCli(['host', 'check', '--json'], { FORKD_DATA_DIR: dataDir }, { timeoutMs: 400_000 });
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as { ok: boolean; accel: string; accelReason: string; qemuVersion: string };
    expect(a.ok).toBe(true);
    expect(a.accel).toMatch(/^(kvm|tcg)$/);
    expect(a.accelReason.length).toBeGreaterThan(3);
    expect(a).toMatchObject({ cached: false });
    expect((a as unknown as { probeBootMs: number }).probeBootMs).toBeGreaterThan(0);
    const second = await runCli(['host', 'check', '--json'], { FORKD_DATA_DIR: dataDir });
    expect(JSON.parse(second.stdout)).toMatchObject({ accel: a.accel, cached: true });
  });

  it('takes FORKD_ACCEL as an override', async () => {
    const r = await runCli(['host', 'check', '--json'], { FORKD_DATA_DIR: dataDir, FORKD_ACCEL: 'tcg' }, { timeoutMs: 400_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accel: 'tcg', accelReason: 'override (FORKD_ACCEL)' });
    const bad = await runCli(['host', 'check'], { FORKD_DATA_DIR: dataDir, FORKD_ACCEL: 'hvf' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/FORKD_ACCEL must be one of/);
  });

  it('leaves no probe behind', () => {
    const run = join(dataDir, 'run');
    expect((() => { try { return readdirSync(run); } catch { return []; } })().filter((d) => d.startsWith('probe-'))).toEqual([]);
  });
});
