// Bad input at start-up: a clear message naming the fault, a non-zero exit, and
// nothing half-created (no database, no key, no Redis left running).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../services/contracts/config.js';
import { runCli, sharedCacheDataDir } from './harness.js';

const made: string[] = [];
afterEach(() => { for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true }); });

function freshDataDir(name: string): string {
  const d = sharedCacheDataDir(name);
  made.push(d);
  return d;
}

function ownFiles(dataDir: string): string[] {
  return readdirSync(dataDir).filter((f) => f !== 'images' && f !== 'host');
}

describe('forkd up with bad configuration', () => {
  it('refuses a malformed DATABASE_URL before starting anything', async () => {
    for (const url of ['mysql://db/forkd', 'not a url', 'postgresql://']) {
      const dataDir = freshDataDir('baddb');
      const r = await runCli(['up'], { FORKD_DATA_DIR: dataDir, DATABASE_URL: url, FORKD_LISTEN: '127.0.0.1:0' });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/DATABASE_URL/);
      expect(r.stderr).toMatch(/ERR_CONFIG/);
      expect(ownFiles(dataDir)).toEqual([]);
    }
  });

  it('refuses a malformed FORKD_LISTEN', async () => {
    const dataDir = freshDataDir('badlisten');
    const r = await runCli(['up'], { FORKD_DATA_DIR: dataDir, FORKD_LISTEN: 'everywhere' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/FORKD_LISTEN must be host:port/);
  });

  it('says libvirtd is not reachable, exits non-zero, and stops its private Redis', async () => {
    const dataDir = freshDataDir('nolibvirt');
    const env = { FORKD_DATA_DIR: dataDir, FORKD_LIBVIRT_URI: 'qemu:///system?socket=/nonexistent/libvirt-sock', FORKD_LISTEN: '127.0.0.1:0' };
    const r = await runCli(['up'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_LIBVIRT_UNAVAILABLE/);
    expect(r.stderr).toMatch(/libvirtd/);
    expect(existsSync(join(dataDir, 'redis.sock'))).toBe(false);
    expect(existsSync(join(dataDir, 'forkd.db'))).toBe(false);
    const check = await runCli(['host', 'check'], env);
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/ERR_LIBVIRT_UNAVAILABLE/);
  });
});

describe('forkd up', () => {
  it('serves the API on embedded defaults and stops cleanly on SIGTERM', async () => {
    const dataDir = freshDataDir('up');
    const port = 20000 + (process.pid % 20000);
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'forkd.js'), 'up'], {
      env: { PATH: process.env.PATH, FORKD_DATA_DIR: dataDir, FORKD_LISTEN: `127.0.0.1:${port}`, FORKD_HOST_ID: `test-up-${process.pid}`, FORKD_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      const deadline = Date.now() + 120_000;
      let healthy = false;
      while (!healthy && Date.now() < deadline && child.exitCode === null) {
        healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
        if (!healthy) await new Promise((r) => setTimeout(r, 250));
      }
      expect(healthy, stderr).toBe(true);
      expect(existsSync(join(dataDir, 'admin.key'))).toBe(true);
      expect(existsSync(join(dataDir, 'forkd.db'))).toBe(true);
      const info = await runCli(['info', '--json'], { FORKD_DATA_DIR: dataDir, FORKD_URL: `http://127.0.0.1:${port}` });
      expect(info.code, info.stderr).toBe(0);
      expect(JSON.parse(info.stdout).hosts.map((h: { hostId: string }) => h.hostId)).toContain(`test-up-${process.pid}`);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(existsSync(join(dataDir, 'redis.sock'))).toBe(false);
  });
});
