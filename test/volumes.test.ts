// Named volumes on the user's path: the forkd CLI against a real API and
// hostd. Data written by one container is read back by the next one on the
// same volume (both forked from the image's template, so the disk is
// hot-plugged at take time); one writer at a time, with a positive control;
// another tenant neither sees nor removes the volume; a refused create leaves
// no row and no disk; `volume rm` removes the disk file.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { runCli, settled, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
let other: NodeJS.ProcessEnv;
const LONG = { timeoutMs: 600_000 };

interface Volume { id: string; name: string; sizeMib: number; attachedTo: { containerId: string; containerName: string } | null }
interface Inspect { id: string; name: string; vm: { boot: string }; volumes: Array<{ name: string; path: string; readOnly: boolean }> }

async function ok(args: string[], env: NodeJS.ProcessEnv = stack.env): Promise<string> {
  const r = await runCli(args, env, LONG);
  expect(r.code, `forkd ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

const disks = (): string[] => readdirSync(join(stack.dataDir, 'volumes')).sort();

beforeAll(async () => {
  stack = await startStack({ name: 'volumes', env: { FORKD_POOL_SIZE: '1' } });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-volumes-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  await ok(['image', 'import', join(work, 'busybox.tar')]);
  await ok(['tenant', 'create', 'globex']);
  other = { ...stack.env, FORKD_API_KEY: (await ok(['key', 'create', '--tenant', 'globex'])).trim() };
}, 600_000);

afterAll(async () => {
  const ps = await runCli(['ps', '-a', '--json'], stack.env).catch(() => null);
  for (const c of ps?.code === 0 ? (JSON.parse(ps.stdout) as { id: string }[]) : []) await runCli(['rm', '-f', c.id], stack.env);
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a named volume', () => {
  let vol: Volume;

  it('is created as a sparse ext4 disk on the host and listed', async () => {
    await ok(['volume', 'create', 'data', '--size', '64', '--label', 'app=test']);
    vol = JSON.parse(await ok(['volume', 'inspect', 'data'])) as Volume;
    expect(vol).toMatchObject({ name: 'data', sizeMib: 64, attachedTo: null });
    expect(disks()).toEqual([`${vol.id}.img`]);
    expect(await ok(['volume', 'ls'])).toContain('data');
  });

  it('keeps what one container wrote for the next container (both forks)', async () => {
    await ok(['run', '--rm', '-v', 'data:/data', 'busybox', '--', 'sh', '-c', 'echo kept > /data/f']);
    const out = await ok(['run', '--rm', '-v', 'data:/data', 'busybox', '--', 'cat', '/data/f']);
    expect(out.trim()).toBe('kept');
  }, 1_200_000);

  it('has one writer at a time: a second container gets 409 naming the holder; another volume works meanwhile', async () => {
    await ok(['run', '-d', '--name', 'holder', '-v', 'data:/data', 'busybox', '--', 'sh', '-c', 'while true; do sleep 60; done']);
    const holder = JSON.parse(await ok(['inspect', 'holder'])) as Inspect;
    expect(holder.vm.boot).not.toBe('cold');
    expect(holder.volumes).toEqual([expect.objectContaining({ name: 'data', path: '/data', readOnly: false })]);
    expect((JSON.parse(await ok(['volume', 'inspect', 'data'])) as Volume).attachedTo).toMatchObject({ containerName: 'holder' });

    const refused = await runCli(['run', '--rm', '-v', 'data:/data', 'busybox', '--', 'true'], stack.env, LONG);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/volume data is in use by container holder/);
    const rm = await runCli(['volume', 'rm', 'data'], stack.env, LONG);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toMatch(/in use by container holder/);

    // Positive control: a volume nobody holds (made on first use, like docker run -v) mounts fine meanwhile.
    expect((await ok(['run', '--rm', '-v', 'scratch:/s', 'busybox', '--', 'sh', '-c', 'echo ok > /s/x && cat /s/x'])).trim()).toBe('ok');
    expect((JSON.parse(await ok(['volume', 'inspect', 'scratch'])) as Volume).sizeMib).toBe(1024);

    // The holder's removal frees the volume: read-only now, and writes refused.
    await ok(['rm', '-f', 'holder']);
    const ro = await runCli(['run', '--rm', '-v', 'data:/data:ro', 'busybox', '--', 'sh', '-c', 'cat /data/f; echo x > /data/g'], stack.env, LONG);
    expect(ro.stdout.trim()).toBe('kept');
    expect(ro.code).not.toBe(0);
  }, 1_800_000);

  it('is hot-plugged into a VM taken from the warm pool and into a cold-booted one alike', async () => {
    // The pool refills in the background after each take: wait (bounded in count) for a ready shell.
    let ready = false;
    for (let i = 0; i < 60 && !ready; i++) {
      // The list has no pool status; each template's own view asks its host.
      const { templates } = (await (await stack.api('/v1/templates')).json()) as { templates: Array<{ id: string }> };
      for (const t of templates) {
        const one = (await (await stack.api(`/v1/templates/${t.id}`)).json()) as { pool: { ready: number } | null };
        if ((one.pool?.ready ?? 0) >= 1) ready = true;
      }
      if (!ready) await new Promise((r) => setTimeout(r, 5_000));
    }
    expect(ready, 'a ready warm-pool shell').toBe(true);
    const body = { image: 'busybox', command: ['cat', '/data/f'], volumes: [{ volume: 'data', path: '/data', readOnly: true }] };
    const res = await settled(stack, await stack.api('/v1/containers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    const pooled = (await res.json()) as Inspect & { vm: { boot: string; timings: Record<string, number> } };
    expect(res.status, JSON.stringify(pooled)).toBe(202);
    expect(pooled.vm.boot).toBe('pool');
    // Reported, not asserted (no timed assertions): what the hot-plug adds to a take.
    console.log(`pool take with a volume: ${JSON.stringify(pooled.vm.timings)}`);
    expect((await ok(['logs', pooled.id])).trim()).toBe('kept');
    await ok(['rm', '-f', pooled.id]);

    const cold = await ok(['run', '--rm', '--boot', 'cold', '-v', 'data:/data', 'busybox', '--', 'cat', '/data/f']);
    expect(cold.trim()).toBe('kept');
  }, 1_200_000);

  it('is invisible to another tenant', async () => {
    for (const ref of ['data', vol.id]) {
      const seen = await runCli(['volume', 'inspect', ref], other, LONG);
      expect(seen.code).not.toBe(0);
      expect(seen.stderr).toMatch(/no volume/);
      const rm = await runCli(['volume', 'rm', ref], other, LONG);
      expect(rm.code).not.toBe(0);
    }
    expect(JSON.parse(await ok(['volume', 'ls', '--json'], other))).toEqual([]);
    // Positive control: the owner still sees it.
    expect((JSON.parse(await ok(['volume', 'inspect', vol.id])) as Volume).name).toBe('data');
  });

  it('refuses a bad create with the field named and leaves no row or disk', async () => {
    const before = disks();
    const tooSmall = await runCli(['volume', 'create', 'tiny', '--size', '1'], stack.env, LONG);
    expect(tooSmall.code).not.toBe(0);
    expect(tooSmall.stderr).toMatch(/sizeMib/);
    const taken = await runCli(['volume', 'create', 'data'], stack.env, LONG);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(/exists/);
    const res = await stack.api('/v1/containers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'busybox', volumes: [{ volume: 'data', path: 'relative' }] }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { field: string } }).error.field).toBe('volumes[0].path');
    expect(disks()).toEqual(before);
    expect((JSON.parse(await ok(['volume', 'ls', '--json'])) as Volume[]).map((v) => v.name).sort()).toEqual(['data', 'scratch']);
  });

  it('is removed with its disk file', async () => {
    await ok(['volume', 'rm', 'data', 'scratch']);
    expect(existsSync(join(stack.dataDir, 'volumes', `${vol.id}.img`))).toBe(false);
    expect(disks()).toEqual([]);
    expect(JSON.parse(await ok(['volume', 'ls', '--json']))).toEqual([]);
  });
});
