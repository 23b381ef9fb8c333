// Pods on the user's path (docs/pods.md): the forkd CLI and /v1 against a real
// API and hostd, one stack, one bare template shared by every pod. Two
// containers of a pod talk over localhost; a container of the same tenant on
// the same network reaches the pod's service by container name, another
// tenant's cannot; an OOM kills only its container; the quota counts a pod's
// VM once; removing the last container leaves the pod, removing the pod takes
// its containers and VM; bad input is refused with the field named and
// nothing half-made, each refusal next to the same request that passes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { runCli, settled, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
let other: NodeJS.ProcessEnv;
let otherKey: string;
const LONG = { timeoutMs: 600_000 };
/** Both pods have this size, so they fork from one bare template. */
const POD_MIB = 384;
const IDLE = ['sh', '-c', 'while true; do sleep 60; done'];
const SERVE = ['sh', '-c', 'mkdir -p /www && echo from-the-pod > /www/index.html && httpd -f -p 8080 -h /www'];

interface PodView {
  id: string; name: string; state: string; memoryMib: number; vcpus: number;
  vm: { id: string } | null; network: { name: string; address: string | null } | null;
  containers: { name: string; state: string; memoryMib: number }[]; free: { memoryMib: number; pids: number };
}
interface ContainerView { id: string; name: string; state: string; oomKilled: boolean; podId?: string | null; vm: { id: string } }
interface ErrorBody { error: { code: string; field?: string; message: string } }

async function ok(args: string[], env: NodeJS.ProcessEnv = stack.env): Promise<string> {
  const r = await runCli(args, env, LONG);
  expect(r.code, `forkd ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function pod(name: string, env: NodeJS.ProcessEnv = stack.env): Promise<PodView> {
  return JSON.parse(await ok(['pod', 'inspect', name], env)) as PodView;
}

/** GET / from `target:8080` inside container `id`: the body, or null without a connection (4 s). */
async function fetchIn(id: string, target: string, env: NodeJS.ProcessEnv = stack.env): Promise<string | null> {
  const r = await runCli(['exec', id, '--', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 4 nc ${target} 8080 | tail -n 1`], env, LONG);
  const out = r.stdout.trim();
  return r.code === 0 && out.length > 0 ? out : null;
}

/** Names reach members in the background: ask a few times (bounded) before concluding. */
async function fetchInSoon(id: string, target: string): Promise<string | null> {
  for (let i = 0; i < 5; i++) {
    const got = await fetchIn(id, target);
    if (got !== null) return got;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return null;
}

async function post(path: string, body: object, key?: string): Promise<Response> {
  return stack.api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(key ? { key } : {}) });
}

async function errorOf(res: Response): Promise<ErrorBody['error']> {
  return ((await res.json()) as ErrorBody).error;
}

beforeAll(async () => {
  stack = await startStack({ name: 'pods', env: { FORKD_POOL_SIZE: '0' } });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-pods-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  // globex: room for its pod and nothing else of that size (maxMemoryMib), to see the quota count the pod once.
  await ok(['tenant', 'create', 'globex', '--max-vms', '3', '--max-memory', String(POD_MIB + 100)]);
  otherKey = (await ok(['key', 'create', '--tenant', 'globex'])).trim();
  other = { ...stack.env, FORKD_API_KEY: otherKey };
  for (const env of [stack.env, other]) await ok(['image', 'import', join(work, 'busybox.tar')], env);
  await ok(['pod', 'create', 'app', '--memory', String(POD_MIB)]);
  await ok(['run', '-d', '--pod', 'app', '--name', 'web', 'busybox', '--', ...SERVE]);
  await ok(['run', '-d', '--pod', 'app', '--name', 'side', 'busybox', '--', ...IDLE]);
  await ok(['run', '-d', '--name', 'client', 'busybox', '--', ...IDLE]); // a fork of the (cached) busybox template: its boot is not the subject
  await ok(['pod', 'create', 'theirs', '--memory', String(POD_MIB)], other);
  await ok(['run', '-d', '--pod', 'theirs', '--name', 'probe', 'busybox', '--', ...IDLE], other);
  await ok(['run', '-d', '--pod', 'theirs', '--name', 'probe2', 'busybox', '--', ...IDLE], other);
}, 1_200_000);

afterAll(async () => {
  for (const env of [stack.env, other]) {
    if (!env) continue;
    const pods = await runCli(['pod', 'ls', '--json'], env).catch(() => null);
    for (const p of pods?.code === 0 ? (JSON.parse(pods.stdout) as { id: string }[]) : []) await runCli(['pod', 'rm', '--force', p.id], env);
    const ps = await runCli(['ps', '-a', '--json'], env).catch(() => null);
    for (const c of ps?.code === 0 ? (JSON.parse(ps.stdout) as { id: string }[]) : []) await runCli(['rm', '-f', c.id], env);
  }
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a pod: several containers of one tenant in one VM', () => {
  it('holds both containers in its one VM, on one address, with their memory taken from its budget', async () => {
    const p = await pod('app');
    expect(p).toMatchObject({ name: 'app', state: 'running', memoryMib: POD_MIB, network: { name: 'default' } });
    expect(p.containers.map((c) => [c.name, c.state])).toEqual([['web', 'running'], ['side', 'running']]);
    const web = JSON.parse(await ok(['inspect', 'web'])) as ContainerView;
    const side = JSON.parse(await ok(['inspect', 'side'])) as ContainerView;
    expect(web.vm.id).toBe(p.vm!.id);
    expect(side.vm.id).toBe(p.vm!.id);
    expect(web.podId).toBe(p.id);
    expect(p.free.memoryMib).toBe(POD_MIB - 96 - 64 - 64);
  });

  it('lets its containers talk over localhost', async () => {
    expect(await fetchIn('side', '127.0.0.1')).toBe('from-the-pod');
  });

  it('answers by each container\'s name on the tenant network, to the tenant\'s other containers only', async () => {
    expect(await fetchInSoon('client', 'web')).toBe('from-the-pod');
    const address = (await pod('app')).network!.address!;
    expect(await fetchIn('client', address)).toBe('from-the-pod'); // the control for the probes below
    expect(await fetchIn('probe', 'web', other)).toBeNull();
    expect(await fetchIn('probe', address, other)).toBeNull();
  });

  it('kills only the container that runs out of memory: its siblings and the agent go on', async () => {
    await ok(['run', '-d', '--pod', 'app', '--name', 'hog', '-m', '16', 'busybox', '--', 'tail', '/dev/zero']);
    try {
      // Bounded: a container that cannot be OOM-killed would otherwise hang here.
      const waited = (await (await stack.api('/v1/containers/hog/wait?timeoutSec=120', { method: 'POST' })).json()) as ContainerView & { exitCode: number | null };
      expect(waited).toMatchObject({ state: 'exited', oomKilled: true, exitCode: 137 });
      expect(await fetchIn('side', '127.0.0.1')).toBe('from-the-pod');
      expect((JSON.parse(await ok(['inspect', 'web'])) as ContainerView).state).toBe('running');
    } finally {
      await runCli(['rm', '-f', 'hog'], stack.env, LONG);
    }
  });

  it('counts a pod against the quota once, with its memory as sized, whatever runs in it', async () => {
    // globex has a pod of POD_MIB and two containers in it; a VM of 128 MiB more is past its maxMemoryMib.
    expect((await pod('theirs', other)).containers).toHaveLength(2);
    const vms = (await (await stack.api('/v1/vms', { key: otherKey })).json()) as { vms: { memoryMib: number }[] };
    expect(vms.vms.map((v) => v.memoryMib)).toEqual([POD_MIB]);
    const past = await post('/v1/containers', { image: 'busybox', command: IDLE, boot: 'cold', vm: { memoryMib: 128 } }, otherKey);
    expect(past.status).toBe(429);
    expect(await errorOf(past)).toMatchObject({ code: 'ERR_QUOTA', field: 'maxMemoryMib' });
  });

  it('refuses another tenant\'s pod and an unknown pod as not found, naming pod', async () => {
    const appId = (await pod('app')).id;
    for (const [ref, key] of [[appId, otherKey], ['nope', undefined]] as const) {
      const res = await post('/v1/containers', { image: 'busybox', command: IDLE, pod: ref }, key);
      expect(res.status).toBe(404);
      expect(await errorOf(res)).toMatchObject({ code: 'ERR_NOT_FOUND', field: 'pod' });
    }
  });

  it('refuses a container larger than what is left of the pod with 409 naming memoryMib, and takes one that fits', async () => {
    const before = (await pod('app')).containers.length;
    const free = (await pod('app')).free.memoryMib;
    const big = await post('/v1/containers', { image: 'busybox', command: IDLE, pod: 'app', name: 'big', memoryMib: free + 1 });
    expect(big.status).toBe(409);
    expect(await errorOf(big)).toMatchObject({ code: 'ERR_CONFLICT', field: 'memoryMib' });
    expect((await pod('app')).containers).toHaveLength(before); // nothing half-made
    const fits = await settled(stack, await post('/v1/containers', { image: 'busybox', command: IDLE, pod: 'app', name: 'fits', memoryMib: free }));
    expect(fits.status).toBe(202);
    expect((await pod('app')).free.memoryMib).toBe(0);
    await ok(['rm', '-f', 'fits']);
  });

  it('refuses a resize while it runs with 409 naming the field (the CLI exits 1 saying what to do), and answers its own size as it is', async () => {
    const before = await pod('app');
    const patch = (body: object) => stack.api('/v1/pods/app', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bigger = await patch({ memoryMib: before.memoryMib * 2 });
    expect(bigger.status).toBe(409);
    expect(await errorOf(bigger)).toMatchObject({ code: 'ERR_CONFLICT', field: 'memoryMib' });
    expect((await patch({ memoryMib: before.memoryMib, vcpus: before.vcpus })).status).toBe(200);
    const cli = await runCli(['pod', 'resize', 'app', '--vcpus', String(before.vcpus + 1)], stack.env);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/vcpus is fixed when the pod is made.*pod create/);
    expect(await pod('app')).toMatchObject({ memoryMib: before.memoryMib, vcpus: before.vcpus, containers: before.containers });
  });

  /** The parent's `side` start ticks, which every copy of it shares. */
  let sideTicks = '';

  /**
   * In one exec: GET / from 127.0.0.1:8080 inside container `id` (the pod's web), and when the container's first
   * process started, in ticks since the boot (a forked VM shares its parent's): equal ticks mean it ran on, not restarted.
   */
  async function localhostAndStart(id: string): Promise<string[]> {
    const out = await ok(['exec', id, '--', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 4 nc 127.0.0.1 8080 | tail -n 1; cut -d" " -f22 /proc/1/stat`]);
    return out.trim().split('\n').map((l) => l.trim());
  }

  it('forks a running pod into a new VM with all its containers mid-flight, names scoped to the new pod', async () => {
    const parent = await pod('app');
    expect(await ok(['pod', 'fork', 'app', '--name', 'app2'])).toContain('web.app2');
    const child = await pod('app2');
    expect(child).toMatchObject({ state: 'running', memoryMib: POD_MIB, network: { name: 'default' } });
    expect(child.vm!.id).not.toBe(parent.vm!.id);
    expect(child.network!.address).not.toBe(parent.network!.address);
    expect(child.containers.map((c) => [c.name, c.state])).toEqual([['web.app2', 'running'], ['side.app2', 'running']]);
    // The child's containers talk over its own localhost, started when the parent's did; the parent runs on.
    const [served, ticks] = await localhostAndStart('side');
    expect(served).toBe('from-the-pod');
    sideTicks = ticks!;
    expect(await localhostAndStart('side.app2')).toEqual(['from-the-pod', sideTicks]);
  });

  it('refuses a pod fork past the quota, of another tenant\'s pod or of an unknown one, making nothing', async () => {
    const count = async () => ((await (await stack.api('/v1/pods', { key: otherKey })).json()) as { pods: unknown[] }).pods.length;
    const before = await count();
    const past = await post('/v1/pods/theirs/fork', {}, otherKey); // globex has room for one pod
    expect(past.status).toBe(403); // a fork over quota, as for a container's fork (docs/fork.md)
    expect(await errorOf(past)).toMatchObject({ code: 'ERR_FORK_QUOTA', field: 'maxMemoryMib' });
    expect(await count()).toBe(before);
    for (const [ref, key] of [['app', otherKey], ['nope', undefined]] as const) {
      const res = await post(`/v1/pods/${ref}/fork`, {}, key);
      expect(res.status).toBe(404);
      expect(await errorOf(res)).toMatchObject({ code: 'ERR_NOT_FOUND', field: 'id' });
    }
    expect((await post('/v1/pods/app/fork', { count: 0 })).status).toBe(400);
  });

  it('snapshots a pod into a template that starts pods with their containers already running; delete refused while used', async () => {
    // A forked pod's snapshot: the guest's ids of its containers are still the first pod's.
    expect((await settled(stack, await post('/v1/pods/app2/snapshot', { name: 'app-tmpl' }))).status).toBe(202);
    await ok(['pod', 'create', 'app3', '--template', 'app-tmpl']);
    const p = await pod('app3');
    expect(p.containers.map((c) => [c.name, c.state])).toEqual([['web.app3', 'running'], ['side.app3', 'running']]);
    expect(await localhostAndStart('side.app3')).toEqual(['from-the-pod', sideTicks]);
    const used = await stack.api('/v1/templates/app-tmpl', { method: 'DELETE' });
    expect(used.status).toBe(409);
    await ok(['pod', 'rm', '--force', 'app3']);
    expect((await stack.api('/v1/templates/app-tmpl', { method: 'DELETE' })).status).toBe(200);
  });

  it('keeps a pod whose last container was removed', async () => {
    await ok(['rm', '-f', 'probe', 'probe2'], other);
    const p = await pod('theirs', other);
    expect(p).toMatchObject({ state: 'running', containers: [] });
    expect(p.vm).not.toBeNull();
    expect((await stack.api(`/v1/vms/${p.vm!.id}`, { key: otherKey })).status).toBe(200);
    await ok(['pod', 'rm', 'theirs'], other); // nothing runs: no --force needed
    expect((await stack.api(`/v1/vms/${p.vm!.id}`, { key: otherKey })).status).toBe(404);
  });

  it('refuses to remove a pod with running containers without force; with force, removes them and its VM', async () => {
    const p = await pod('app');
    const refused = await stack.api('/v1/pods/app', { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(await errorOf(refused)).toMatchObject({ code: 'ERR_CONFLICT', field: 'force' });
    expect((await pod('app')).containers.map((c) => c.name)).toEqual(['web', 'side']);
    expect((await stack.api('/v1/pods/app?force=true', { method: 'DELETE' })).status).toBe(200);
    expect((await stack.api('/v1/pods/app')).status).toBe(404);
    expect((await stack.api('/v1/containers/web')).status).toBe(404);
    expect((await stack.api('/v1/containers/side')).status).toBe(404);
    expect((await stack.api(`/v1/vms/${p.vm!.id}`)).status).toBe(404);
    // hostd no longer runs it either: a reconcile round (hostd's vm.list against the rows) finds no VM of it left over to destroy.
    const round = (await (await stack.api('/v1/admin/reconcile', { method: 'POST' })).json()) as { hosts: { destroyed?: string[]; lost?: string[] }[] };
    expect(round.hosts.length).toBeGreaterThan(0);
    expect(round.hosts.flatMap((h) => [...(h.destroyed ?? []), ...(h.lost ?? [])])).not.toContain(p.vm!.id);
  });
});
