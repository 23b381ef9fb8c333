// Two hosts, one API (docs/multi-host.md): two hostd processes on this machine
// with their own FORKD_HOST_ID and data directory, sharing the API's Redis and
// a real PostgreSQL. An image imported once runs on both hosts: the host on
// the API's data directory reads the layers in place, the other fetches them
// by digest into its blob cache. Placement spreads containers over both; a
// killed hostd's host goes down, its container shows `lost`, a fork of it is
// refused (forks cannot cross hosts) and new containers go to the other host;
// restarted, it adopts its VM and the container is `running` again.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { startTestPostgres, type TestPostgres } from '../services/api/db/test-postgres.js';
import { PACKAGE_ROOT } from '../services/contracts/config.js';
import { createLogger } from '../services/contracts/logger.js';
import { releaseDataDirNetworking } from '../services/hostd/network/release.js';
import { settled, sharedCacheDataDir, startStack, type Stack } from './harness.js';
import { startHostdProcess, waitForHost } from './hostd-process.js';

interface Host { id: string; env: NodeJS.ProcessEnv; dataDir: string; proc?: ChildProcess }
type Container = { id: string; state: string; vm: { hostId: string } };

let pg: TestPostgres | undefined;
let pgSkip = '';
let stack: Stack;
let work: string;
let layers: string[] = [];
const hosts: Host[] = [];
const containers: string[] = [];

const json = { 'content-type': 'application/json' };
const hostView = (h: Host) => ({ api: stack.api, config: { ...stack.config, hostId: h.id } });
const start = (h: Host) => { h.proc = startHostdProcess({ env: h.env }); };
const getContainer = async (id: string): Promise<Container> => (await (await stack.api(`/v1/containers/${id}`)).json()) as Container;

/** Accepted at once (the VM row, and so its host, is chosen before the answer); settled by the caller. */
async function create(network: string): Promise<{ id: string; done: Promise<Response> }> {
  await stack.api('/v1/networks', { method: 'POST', headers: json, body: JSON.stringify({ name: network }) });
  const res = await stack.api('/v1/containers', { method: 'POST', headers: json, body: JSON.stringify({ image: 'busybox', boot: 'cold', network, command: ['sleep', '3600'] }) });
  expect(res.status, await res.clone().text()).toBe(202);
  const body = (await res.clone().json()) as { operation: { targetId: string } };
  containers.push(body.operation.targetId);
  return { id: body.operation.targetId, done: settled(stack, res) };
}

/** A data directory of its own: the guest images and host verdicts shared, but no container image store. */
function hostDataDir(name: string): string {
  const dir = sharedCacheDataDir(name, ['host']);
  mkdirSync(join(dir, 'images'));
  for (const shared of ['guest', 'probe']) {
    mkdirSync(join(PACKAGE_ROOT, 'var', 'images', shared), { recursive: true });
    symlinkSync(join(PACKAGE_ROOT, 'var', 'images', shared), join(dir, 'images', shared));
  }
  return dir;
}

beforeAll(async () => {
  const r = await startTestPostgres();
  if ('skip' in r) {
    pgSkip = r.skip;
    return;
  }
  pg = r.pg;
  // One secret key for the API and both hosts (env sealing and host credentials); hosts down after 10 s of silence.
  stack = await startStack({
    name: 'multihost', hostd: false,
    env: { DATABASE_URL: pg.url, FORKD_SECRET_KEY: randomBytes(32).toString('base64'), FORKD_HOST_DOWN_SEC: '10', FORKD_POOL_SIZE: '0', FORKD_JOB_LOCK_SEC: '8' },
  });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-multihost-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const up = await stack.api('/v1/images', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: readFileSync(join(work, 'busybox.tar')) });
  expect(up.status).toBe(201);
  // The API's layer store (shared with the checkout's var/images): whatever host B caches must be among these.
  layers = readdirSync(join(stack.dataDir, 'images', 'containers', 'layers', 'sha256'));
  // Host A shares the API's data directory (the fast path); host B has its own.
  const suffix = process.pid;
  hosts.push({ id: `mh-a-${suffix}`, dataDir: stack.dataDir, env: { ...stack.env, FORKD_HOST_ID: `mh-a-${suffix}` } });
  const dirB = hostDataDir('multihost-b');
  hosts.push({ id: `mh-b-${suffix}`, dataDir: dirB, env: { ...stack.env, FORKD_HOST_ID: `mh-b-${suffix}`, FORKD_DATA_DIR: dirB } });
  for (const h of hosts) start(h);
  for (const h of hosts) await waitForHost(hostView(h), 'up');
}, 240_000);

afterAll(async () => {
  if (!stack) {
    await pg?.stop();
    return;
  }
  for (const id of containers) await stack.api(`/v1/containers/${id}?force=true`, { method: 'DELETE' }).catch(() => undefined);
  for (const h of hosts) {
    if (!h.proc || h.proc.exitCode !== null) continue;
    const exited = new Promise((r) => h.proc!.once('exit', r));
    h.proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
  }
  await stack.stop();
  const dirB = hosts[1]?.dataDir;
  if (dirB) {
    await releaseDataDirNetworking(join(dirB, 'run'), createLogger('warn', { svc: 'test-multihost' })).catch(() => undefined);
    rmSync(dirB, { recursive: true, force: true });
  }
  rmSync(work, { recursive: true, force: true });
  await pg?.stop();
}, 180_000);

describe('two hosts behind one API', () => {
  let onA = '';
  let onB = '';

  it('run one imported image on both: placement spreads the containers, and the second host fetches the layers by digest', async (ctx) => {
    if (pgSkip) ctx.skip(pgSkip);
    const first = await create('mh-net-1');
    // The first VM's row exists now, so the second goes to the other host (fewest VMs first).
    const second = await create('mh-net-2');
    for (const c of [first, second]) {
      const res = await c.done;
      expect(res.status, await res.clone().text()).toBe(202);
    }
    const placed = await Promise.all([first, second].map((c) => getContainer(c.id)));
    expect(placed.map((c) => c.state)).toEqual(['running', 'running']);
    expect(new Set(placed.map((c) => c.vm.hostId))).toEqual(new Set(hosts.map((h) => h.id)));
    onA = placed.find((c) => c.vm.hostId === hosts[0]!.id)!.id;
    onB = placed.find((c) => c.vm.hostId === hosts[1]!.id)!.id;
    // Host B has its own data directory: every layer came from the API, by digest, into its cache.
    const cacheB = join(hosts[1]!.dataDir, 'blobs', 'sha256');
    const fetched = existsSync(cacheB) ? readdirSync(cacheB).filter((f) => f.endsWith('.tar')) : [];
    expect(fetched.length).toBeGreaterThan(0);
    expect(layers).toEqual(expect.arrayContaining(fetched));
    // Positive control: host A, on the API's data directory, read them in place and fetched nothing.
    expect(existsSync(join(hosts[0]!.dataDir, 'blobs', 'sha256'))).toBe(false);
  });

  it('mark a killed hostd\'s host down: its container shows lost, a fork of it is refused, new containers go to the other host', async (ctx) => {
    if (pgSkip) ctx.skip(pgSkip);
    const b = hosts[1]!;
    const exited = new Promise((r) => b.proc!.once('exit', r));
    b.proc!.kill('SIGKILL');
    await exited;
    await waitForHost(hostView(b), 'down');
    expect((await getContainer(onB)).state).toBe('lost');
    const fork = await stack.api(`/v1/containers/${onB}/fork`, { method: 'POST', headers: json, body: JSON.stringify({}) });
    expect(fork.status).toBe(503);
    expect(((await fork.json()) as { error: { code: string } }).error.code).toBe('ERR_FORK_CROSS_HOST');
    // Positive control: the container on the up host is running, not lost.
    expect((await getContainer(onA)).state).toBe('running');

    const third = await create('mh-net-3');
    expect((await getContainer(third.id)).vm.hostId).toBe(hosts[0]!.id);
    // Meanwhile the host comes back: the restarted hostd adopts its VM, and the container is running again.
    start(b);
    await waitForHost(hostView(b), 'up');
    let state = '';
    for (let i = 0; i < 60 && state !== 'running'; i++) {
      state = (await getContainer(onB)).state;
      if (state !== 'running') await new Promise((r) => setTimeout(r, 500));
    }
    expect(state).toBe('running');
    const res = await third.done;
    expect(res.status, await res.clone().text()).toBe(202);
  });
});
