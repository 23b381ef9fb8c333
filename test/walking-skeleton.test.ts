// The walking skeleton end to end: a real API and hostd over a real Redis and
// SQLite, libvirt underneath, and the CLI as a user runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startStack, type Stack } from './harness.js';

let stack: Stack;
beforeAll(async () => { stack = await startStack({ name: 'skeleton' }); });
afterAll(async () => { await stack?.stop(); });

describe('forkd API', () => {
  it('answers /healthz without a key', async () => {
    const res = await stack.api('/healthz', { key: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('refuses /v1 without a key, with a wrong key, and with a malformed header', async () => {
    for (const init of [{ key: null }, { key: 'fkd_wrong_key' }, { key: null, headers: { authorization: 'Basic abc' } }]) {
      const res = await stack.api('/v1/info', init);
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('ERR_UNAUTHORIZED');
      expect(body.error.message.length).toBeGreaterThan(5);
    }
  });

  it('reports the accelerator, libvirt and QEMU versions and the host, read from hostd', async () => {
    const res = await stack.api('/v1/info');
    expect(res.status).toBe(200);
    const info = (await res.json()) as Record<string, any>;
    expect(info.accel).toMatch(/^(kvm|tcg)$/);
    expect(info.libvirtVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.qemuVersion).toMatch(/^\d+\.\d+\.\d+$/);
    const host = info.hosts.find((h: any) => h.hostId === stack.config.hostId);
    expect(host).toMatchObject({ state: 'up', accel: info.accel });
    expect(host.capacity.cpus).toBeGreaterThan(0);
    expect(host.capacity.memoryMib).toBeGreaterThan(0);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await stack.api('/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.code).toBe('ERR_NOT_FOUND');
  });
});

describe('forkd CLI', () => {
  it('`forkd info --json` reports the accelerator and versions', async () => {
    const r = await runCli(['info', '--json'], stack.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.accel).toMatch(/^(kvm|tcg)$/);
    expect(info.qemuVersion).toMatch(/^\d+\.\d+/);
  });

  it('`forkd info` prints a table', async () => {
    const r = await runCli(['info'], stack.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(stack.config.hostId);
    expect(r.stdout).toMatch(/accel=(kvm|tcg)/);
  });

  it('exits non-zero with the error code on a wrong key', async () => {
    const r = await runCli(['info'], { ...stack.env, FORKD_API_KEY: 'fkd_nope' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_UNAUTHORIZED/);
  });

  it('exits non-zero when no server answers', async () => {
    const r = await runCli(['info'], { ...stack.env, FORKD_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the forkd API/);
  });

  it('rejects unknown commands and options with usage', async () => {
    const a = await runCli(['frobnicate'], stack.env);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown command/);
    const b = await runCli(['info', '--bogus'], stack.env);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/bogus/);
  });

  it('lists a command group\'s commands for `forkd GROUP --help`, and still refuses an unknown group', async () => {
    const help = await runCli(['volume', '--help'], stack.env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/forkd volume create/);
    expect(help.stdout).toMatch(/forkd volume rm/);
    const unknown = await runCli(['frobnicate', '--help'], stack.env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);
  });
});
