// Forking a running container, end to end on real guests (docs/fork.md
// "Forking a running container"): one stack (hostd in this process, so the
// test can ask each guest's agent who it is), one busybox template, one parent
// whose shell loop counts in memory and writes the count to a file. Children
// continue its count, keep their files to themselves and get their own
// identity; a child forks again; a snapshot starts containers later with the
// state it froze; bad requests change nothing. Timings are printed, never asserted.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { createLogger } from '../services/contracts/logger.js';
import { startHostd, type RunningHostd } from '../services/hostd/main.js';
import { runCli, settled, startStack, type Stack } from './harness.js';

let stack: Stack;
let hostd: RunningHostd | undefined;
let work: string;
let acmeKey = '';
let otherKey = '';
const log = createLogger('warn', { svc: 'test-live-fork' });

interface View { id: string; name: string; state: string; ports: Array<{ containerPort: number; hostPort: number }>; vm: { id: string } }
interface ForkResult { containers: View[]; forkPoint: { templateId: string; timings: Record<string, number>; streamBytes: number } }
type ErrorBody = { error: { code: string; field?: string; message: string } };

const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done';

async function as(key: string, path: string, init: RequestInit = {}): Promise<Response> {
  return stack.api(path, { ...init, key, headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...(init.headers ?? {}) } });
}

async function post(key: string, path: string, body: unknown): Promise<Response> {
  return settled(stack, await as(key, path, { method: 'POST', body: JSON.stringify(body) }));
}

/** A shell command in a container through the CLI (the user's path, id translation included). */
async function sh(id: string, script: string): Promise<string> {
  const r = await runCli(['exec', id, '--', 'sh', '-c', script], { ...stack.env, FORKD_API_KEY: acmeKey });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const count = async (id: string): Promise<number> => Number(await sh(id, 'cat /tmp/count'));

/** Who the VM is, from its agent and its NIC. */
async function identity(c: View): Promise<{ hostname: string; containerHostname: string; machineId: string; mac: string; random: string }> {
  const info = (await hostd!.vms.get(c.vm.id).agent.call('info', {})) as { hostname: string; machineId?: string };
  const [mac, random, containerHostname] = (await sh(c.id, 'cat /sys/class/net/eth0/address 2>/dev/null || echo none; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; uname -n')).split('\n');
  return { hostname: info.hostname, containerHostname: containerHostname ?? '', machineId: info.machineId ?? '', mac: mac ?? '', random: random ?? '' };
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function expectError(res: Response, status: number, code: string, field?: string): Promise<void> {
  const body = (await res.json()) as ErrorBody;
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  if (field) expect(body.error.field).toBe(field);
}

const forkPoints = (): string[] => readdirSync(join(stack.dataDir, 'templates')).filter((d) => d.startsWith('fp-'));

beforeAll(async () => {
  stack = await startStack({ name: 'live-fork', hostd: false });
  // Reuse within two minutes whatever the guest wrote (QEMU still has to measure it): the test forks the parent again after a slow first fork.
  hostd = await startHostd({ ...stack.config, forkReuseMs: 120_000, forkReuseMaxDirtyMib: 1024 }, stack.env.REDIS_URL!, log);
  work = mkdtempSync(join(tmpdir(), 'forkd-test-live-fork-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  for (const [name, maxVms] of [['acme', 4], ['other', 2]] as const) {
    expect((await runCli(['tenant', 'create', name, '--max-vms', String(maxVms)], stack.env)).code).toBe(0);
    const k = await runCli(['key', 'create', '--tenant', name, '--name', 'test'], stack.env);
    expect(k.code, k.stderr).toBe(0);
    if (name === 'acme') acmeKey = k.stdout.trim();
    else otherKey = k.stdout.trim();
  }
  const imp = await runCli(['image', 'import', join(work, 'busybox.tar')], { ...stack.env, FORKD_API_KEY: acmeKey });
  expect(imp.code, imp.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  // VMs outlive hostd (a restarted one adopts them): a failed test's must not outlive the test.
  for (const vm of hostd?.vms.all() ?? []) await hostd!.vms.destroy(vm.vmId).catch(() => undefined);
  await hostd?.stop();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('forking a running container', () => {
  let parent: View;
  let children: View[] = [];
  let atFork = 0;

  it('runs the parent: a counter in a shell loop, forked from a template', async () => {
    const res = await post(acmeKey, '/v1/containers', { image: 'busybox', name: 'counter', boot: 'fork', command: ['sh', '-c', COUNTER], ports: [{ containerPort: 8080 }] });
    expect(res.status, await res.clone().text()).toBe(202);
    parent = (await res.json()) as View;
    await until('the parent to count', async () => (await count(parent.id)) >= 3);
  }, 300_000);

  it('refuses bad requests and changes nothing', async () => {
    const before = ((await (await as(acmeKey, '/v1/containers?all=true')).json()) as { containers: View[] }).containers.length;
    await expectError(await post(acmeKey, `/v1/containers/${parent.id}/fork`, { count: 0 }), 400, 'ERR_VALIDATION', 'body.count');
    await expectError(await post(acmeKey, `/v1/containers/${parent.id}/fork`, { count: 65 }), 400, 'ERR_VALIDATION', 'body.count');
    await expectError(await post(acmeKey, '/v1/containers/no-such-container/fork', {}), 404, 'ERR_NOT_FOUND');
    // Another tenant's container does not exist for it.
    await expectError(await post(otherKey, `/v1/containers/${parent.id}/fork`, {}), 404, 'ERR_NOT_FOUND');
    await expectError(await post(otherKey, `/v1/containers/${parent.id}/snapshot`, { name: 'theirs' }), 404, 'ERR_NOT_FOUND');
    // Four VMs at most: the parent and four children would be five; nothing is made.
    await expectError(await post(acmeKey, `/v1/containers/${parent.id}/fork`, { count: 4 }), 403, 'ERR_FORK_QUOTA', 'maxVms');
    const after = ((await (await as(acmeKey, '/v1/containers?all=true')).json()) as { containers: View[] }).containers.length;
    expect(after).toBe(before);
    expect(forkPoints()).toEqual([]);
  });

  it('forks it twice: each child continues the count, the parent too', async () => {
    atFork = await count(parent.id);
    const t0 = Date.now();
    const res = await post(acmeKey, `/v1/containers/${parent.id}/fork`, { count: 2, name: 'branch' });
    expect(res.status, await res.clone().text()).toBe(202);
    const r = (await res.json()) as ForkResult;
    console.log(`fork x2: ${Date.now() - t0} ms; parent paused ${r.forkPoint.timings['pauseMs']} ms; fork point ${JSON.stringify(r.forkPoint)}`);
    children = r.containers;
    expect(children.map((c) => c.name)).toEqual(['branch-1', 'branch-2']);
    expect(children.every((c) => c.state === 'running')).toBe(true);
    // The parent's port definition, on a new host port each.
    const hostPorts = [parent, ...children].map((c) => c.ports.find((p) => p.containerPort === 8080)?.hostPort);
    expect(new Set(hostPorts).size).toBe(3);
    for (const c of [parent, ...children]) {
      // Not restarted from 1: the process (and its $i in memory) survived the fork, and keeps counting.
      const first = await count(c.id);
      expect(first).toBeGreaterThanOrEqual(atFork);
      await until(`${c.name} to count on`, async () => (await count(c.id)) > first, 20_000);
    }
  }, 300_000);

  it('forks the parent again at once: the fork point is reused (no pause, nothing written), and the child has the parent\'s state of then', async () => {
    const first = forkPoints();
    expect(first).toHaveLength(1);
    const res = await post(acmeKey, `/v1/containers/${parent.id}/fork`, { name: 'again' });
    expect(res.status, await res.clone().text()).toBe(202);
    const r = (await res.json()) as ForkResult & { forkPoint: { reused?: boolean; takenAt?: string } };
    console.log(`re-fork: fork point ${JSON.stringify(r.forkPoint)}`);
    // The positive control is the first fork above: it captured (no reused flag, a pause).
    expect(r.forkPoint).toMatchObject({ templateId: first[0], reused: true, streamBytes: 0 });
    expect(r.forkPoint.timings['pauseMs']).toBeUndefined();
    expect(forkPoints()).toEqual(first);
    const [again] = r.containers as [View];
    const at = await count(again.id);
    expect(at).toBeGreaterThanOrEqual(atFork); // the moment of the first capture: the counter survived it
    await until('the re-forked child to count on', async () => (await count(again.id)) > at, 20_000);
    // Quota: four VMs; this child goes before the fork of a fork below.
    expect((await runCli(['rm', '-f', again.id], { ...stack.env, FORKD_API_KEY: acmeKey })).code).toBe(0);
  }, 120_000);

  it('keeps each child\'s files to itself', async () => {
    const [a, b] = children as [View, View];
    await sh(a.id, 'echo mine > /tmp/only-a');
    await sh(parent.id, 'echo mine > /tmp/only-parent');
    expect(await sh(a.id, 'cat /tmp/only-a')).toBe('mine');
    for (const c of [parent, b]) expect(await sh(c.id, 'test -e /tmp/only-a && echo seen || echo absent')).toBe('absent');
    for (const c of [a, b]) expect(await sh(c.id, 'test -e /tmp/only-parent && echo seen || echo absent')).toBe('absent');
  }, 120_000);

  it('gives every child its own hostname (its VM\'s and, inside, its container\'s), machine-id, MAC and random numbers', async () => {
    const ids = await Promise.all([parent, ...children].map(identity));
    console.log('identities', JSON.stringify(ids));
    // The container's own UTS name followed its VM's new one.
    for (const i of ids) expect(i.containerHostname).toBe(i.hostname);
    for (const key of ['hostname', 'containerHostname', 'machineId', 'mac', 'random'] as const) {
      expect(new Set(ids.map((i) => i[key])).size, key).toBe(3);
    }
  }, 60_000);

  it('forks a fork, and refuses a stopped container', async () => {
    const [a, b] = children as [View, View];
    const res = await post(acmeKey, `/v1/containers/${a.id}/fork`, {});
    expect(res.status, await res.clone().text()).toBe(202);
    const [grandchild] = ((await res.json()) as ForkResult).containers as [View];
    expect(await sh(grandchild.id, 'cat /tmp/only-a')).toBe('mine');
    expect(await count(grandchild.id)).toBeGreaterThanOrEqual(atFork);
    // Fork points live while a VM (or a template) needs them.
    expect(forkPoints().length).toBe(2);

    expect((await runCli(['stop', '-t', '1', b.id], { ...stack.env, FORKD_API_KEY: acmeKey })).code).toBe(0);
    await expectError(await post(acmeKey, `/v1/containers/${b.id}/fork`, {}), 409, 'ERR_CONFLICT', 'container');
    for (const c of [b, grandchild]) expect((await runCli(['rm', '-f', c.id], { ...stack.env, FORKD_API_KEY: acmeKey })).code).toBe(0);
  }, 300_000);

  it('snapshots the parent into a template that starts containers later with its state', async () => {
    const beforeSnapshot = await count(parent.id);
    const snap = await post(acmeKey, `/v1/containers/${parent.id}/snapshot`, { name: 'counter-snap' });
    expect(snap.status, await snap.clone().text()).toBe(202);
    const t = (await snap.json()) as { id: string; kind: string; origin: { name: string }; pauseMs: number };
    expect(t).toMatchObject({ id: 'counter-snap', kind: 'snapshot', origin: { name: 'counter' } });
    await sh(parent.id, 'echo later > /tmp/after-snapshot');
    const ls = await runCli(['template', 'ls'], { ...stack.env, FORKD_API_KEY: acmeKey });
    expect(ls.stdout).toMatch(/counter-snap .*snapshot of counter/);

    const cli = await runCli(['run', '--template', 'counter-snap', '--name', 'revived'], { ...stack.env, FORKD_API_KEY: acmeKey }, { timeoutMs: 300_000 });
    expect(cli.code, cli.stderr).toBe(0);
    const id = cli.stdout.trim();
    const revived = await count(id);
    expect(revived).toBeGreaterThanOrEqual(beforeSnapshot); // on from the count it had when frozen, not from 1
    expect(await sh(id, 'test -e /tmp/after-snapshot && echo seen || echo absent')).toBe('absent');
    expect(await sh(id, 'test -e /tmp/only-parent && echo seen || echo absent')).toBe('seen');

    // Used: neither the snapshot nor the template it came from may go.
    await expectError(await as(acmeKey, '/v1/templates/counter-snap', { method: 'DELETE' }), 409, 'ERR_CONFLICT');
    expect((await runCli(['rm', '-f', id], { ...stack.env, FORKD_API_KEY: acmeKey })).code).toBe(0);
    const del = await as(acmeKey, '/v1/templates/counter-snap', { method: 'DELETE' });
    expect(del.status, await del.text()).toBe(200);
    expect(existsSync(join(stack.dataDir, 'templates', 'counter-snap'))).toBe(false);
  }, 300_000);

  it('leaves no fork point once no VM uses it', async () => {
    for (const c of [parent, ...children]) await runCli(['rm', '-f', c.id], { ...stack.env, FORKD_API_KEY: acmeKey });
    // A removal answers once its VM's destroy is journaled (docs/lifecycle.md): the VMs, then the sweep, follow.
    await expect.poll(() => hostd!.vms.running().length, { timeout: 60_000, interval: 250 }).toBe(0);
    await expect.poll(forkPoints, { timeout: 60_000, interval: 250 }).toEqual([]);
  }, 120_000);
});
