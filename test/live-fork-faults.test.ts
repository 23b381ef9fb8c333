// Forking a running container when things go wrong (docs/fork.md "When a
// fork fails"), on one stack whose hostd is a process of its own (so it can
// be killed) and one parent whose shell loop counts in memory:
// - the disk that holds RAM streams is full (a 16 MiB tmpfs mounted over
//   `<dataDir>/fork-streams`, where a 256 MiB guest's stream cannot fit):
//   the fork fails ERR_HOST_DISK_FULL before the parent is paused (the free
//   space check); with the tmpfs gone the same fork works (the control);
// - hostd is SIGKILLed while the parent is paused for its stream, and again
//   while the freezer loads it: the next hostd resumes the parent, destroys
//   the freezer, and the fork fails ERR_INTERRUPTED; a fork after the
//   restarts works (the control).
// Each time the parent counts on, and nothing of the failed fork is left: no
// fork point, freezer, stream, child row, domain, VM directory or port.
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { Connection } from '../native/libvirt/index.js';
import { runCli, settled, startStack, type Stack } from './harness.js';
import { startHostdProcess } from './hostd-process.js';

const run = promisify(execFile);

let stack: Stack;
let work: string;
let conn: Connection;
let hostd: ChildProcess | undefined;
let streamsDir = '';
let mounted = false;

interface View { id: string; name: string; state: string; ports: Array<{ containerPort: number; hostPort: number }>; vm: { id: string; domainName: string } }
interface ForkResult { containers: View[]; forkPoint: { templateId: string; timings: Record<string, number>; streamBytes: number } }
type ErrorBody = { error: { code: string; message: string } };

const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done';

async function until(what: string, fn: () => Promise<boolean>, tries = 240, everyMs = 250): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function hostUp(): Promise<void> {
  await until('hostd to announce itself', async () => {
    const info = (await (await stack.api('/v1/info')).json()) as { hosts: { hostId: string; state: string }[] };
    return info.hosts.some((h) => h.hostId === stack.config.hostId && h.state === 'up');
  });
}

async function sh(id: string, script: string): Promise<string> {
  const r = await runCli(['exec', id, '--', 'sh', '-c', script], stack.env);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const count = async (id: string): Promise<number> => Number(await sh(id, 'cat /tmp/count'));

/** The parent counts on: a value above `from` shows up (the same process, not restarted from 1). */
async function countsOn(id: string, from: number): Promise<void> {
  await until(`${id} to count past ${from}`, async () => (await count(id)) > from, 120);
}

/** This stack's domains (by the host id in forkd's metadata), names sorted. */
async function hostDomains(): Promise<string[]> {
  const names: string[] = [];
  for (const d of await conn.listAllDomains(0)) {
    const xml = await d.getXMLDesc(0).catch(() => '');
    if (xml.includes(`host='${stack.config.hostId}'`) || xml.includes(`host="${stack.config.hostId}"`)) names.push(d.name);
    await d.free();
  }
  return names.sort();
}

async function domainState(name: string): Promise<string> {
  const d = await conn.lookupDomainByName(name);
  try {
    return d ? (await d.getState()).state : 'gone';
  } finally {
    await d?.free();
  }
}

/** TCP ports hostd's process listens on (published container ports). */
async function hostdPorts(): Promise<number[]> {
  const { stdout } = await run('ss', ['-Hltnp']);
  return stdout.split('\n').filter((l) => l.includes(`pid=${hostd!.pid},`)).map((l) => Number(/:(\d+)\s/.exec(l)?.[1])).sort((a, b) => a - b);
}

const forkPoints = (): string[] => readdirSync(join(stack.dataDir, 'templates')).filter((d) => d.startsWith('fp-'));
const streams = (): string[] => (existsSync(streamsDir) ? readdirSync(streamsDir) : []);
const vmDirs = (): string[] => readdirSync(join(stack.dataDir, 'run', 'vms')).sort();
/** hostd's marker per tap it made (written before the tap, removed after it): the freezer's and the children's too. */
const tapMarkers = (): string[] => readdirSync(join(stack.dataDir, 'run', 'taps')).sort();
let parentTaps: string[] = [];

async function containerIds(): Promise<string[]> {
  return ((await (await stack.api('/v1/containers?all=true')).json()) as { containers: View[] }).containers.map((c) => c.id).sort();
}

async function fork(parent: View): Promise<Response> {
  return stack.api(`/v1/containers/${parent.id}/fork`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
}

/** Nothing but the parent: no fork point, freezer, stream, child row, domain, VM directory or tap; the same ports as `ports`. */
async function onlyTheParent(parent: View, ports: number[]): Promise<void> {
  expect(tapMarkers()).toEqual(parentTaps);
  expect(forkPoints()).toEqual([]);
  expect(streams()).toEqual([]);
  expect(await hostDomains()).toEqual([parent.vm.domainName]); // no freezer (forkd-tmpl-frz-…), no child
  expect(vmDirs()).toEqual([parent.vm.id]);
  expect(await containerIds()).toEqual([parent.id]);
  expect(await hostdPorts()).toEqual(ports);
}

/** Removes a child and waits for its teardown (journaled: the removal answers first) and its fork point's sweep. */
/** The control after a fault: the parent forks, its child counts on from the parent's value, and only the parent is left. */
async function forkWorks(parent: View, ports: number[]): Promise<void> {
    const atFork = await count(parent.id);
    const ok = await settled(stack, await fork(parent));
    expect(ok.status, await ok.clone().text()).toBe(202);
    const [child] = ((await ok.json()) as ForkResult).containers as [View];
    expect(await count(child.id)).toBeGreaterThanOrEqual(atFork);
    await removeChild(child.id);
    await onlyTheParent(parent, ports);
}

async function removeChild(id: string): Promise<void> {
  const r = await runCli(['rm', '-f', id], stack.env);
  expect(r.code, r.stderr).toBe(0);
  await until('the child\'s VM and fork point to go', async () => vmDirs().length === 1 && forkPoints().length === 0 && tapMarkers().length === 1 && (await hostDomains()).length === 1);
}

beforeAll(async () => {
  // A short job lock: the stalled fork is handed to the restarted hostd within seconds, not minutes.
  stack = await startStack({ name: 'lf-faults', hostd: false, env: { FORKD_POOL_SIZE: '0', FORKD_JOB_LOCK_SEC: '8', FORKD_FORK_REUSE_SEC: '0' } }); // every fork captures (and keeps no last fork point): these faults are in the capture
  conn = await Connection.open();
  work = mkdtempSync(join(tmpdir(), 'forkd-test-lf-faults-'));
  const tar = join(work, 'busybox.tar');
  await buildBusyboxImage(tar, {});
  const up = await stack.api('/v1/images', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: readFileSync(tar) });
  expect(up.status).toBe(201);
  hostd = startHostdProcess(stack);
  await hostUp();
  streamsDir = join(stack.dataDir, 'fork-streams'); // made by hostd at start
}, 180_000);

afterAll(async () => {
  if (mounted) await run('umount', [streamsDir]).catch(() => undefined);
  const ps = await runCli(['ps', '-a', '--json'], stack.env).catch(() => null);
  for (const c of ps?.code === 0 ? (JSON.parse(ps.stdout) as { id: string }[]) : []) await runCli(['rm', '-f', c.id], stack.env);
  hostd?.kill('SIGTERM');
  await new Promise((r) => (hostd && hostd.exitCode === null ? hostd.once('exit', r) : r(undefined)));
  // VMs outlive hostd: what a failed test left goes by this stack's host id.
  for (const name of await hostDomains().catch(() => [])) {
    const d = await conn.lookupDomainByName(name);
    await d?.destroy().catch(() => undefined);
    await d?.free();
  }
  await conn?.close();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('a live fork that fails', () => {
  let parent: View;
  let ports: number[] = [];

  it('runs the parent: a counter in a shell loop, with a published port', async () => {
    const res = await settled(stack, await stack.api('/v1/containers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'busybox', name: 'counter', boot: 'fork', command: ['sh', '-c', COUNTER], ports: [{ containerPort: 8080 }] }) }));
    expect(res.status, await res.clone().text()).toBe(202);
    parent = (await res.json()) as View;
    await countsOn(parent.id, 2);
    ports = await hostdPorts();
    expect(ports).toEqual(parent.ports.map((p) => p.hostPort)); // what "no port left" compares against
    parentTaps = tapMarkers();
    expect(parentTaps).toHaveLength(1);
    expect(streams()).toEqual([]);
  }, 180_000);

  it('fails ERR_HOST_DISK_FULL when the RAM stream does not fit, and leaves nothing; with room the fork works', async () => {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', streamsDir]);
    mounted = true;
    try {
      const before = await count(parent.id);
      const res = await settled(stack, await fork(parent));
      const body = (await res.json()) as ErrorBody;
      console.log(`disk-full fork: HTTP ${res.status} ${body.error?.code}: ${body.error?.message}`);
      expect(res.status).toBe(507);
      expect(body.error.code).toBe('ERR_HOST_DISK_FULL');
      expect(body.error.message).toMatch(/RAM stream.*the parent was not paused/);
      expect(streams()).toEqual([]); // the tmpfs itself: the partial stream went
      await countsOn(parent.id, before);
      expect(await domainState(parent.vm.domainName)).toBe('running');
      await onlyTheParent(parent, ports);
    } finally {
      await run('umount', [streamsDir]);
      mounted = false;
    }

    // The control: the same fork with the stream on the real disk.
    await forkWorks(parent, ports);
  }, 180_000);

  /**
   * Forks the parent, SIGKILLs hostd the moment `phase` shows (polled, not
   * timed), restarts it, and checks the outcome: the fork failed
   * ERR_INTERRUPTED, the parent runs and counts on, nothing else is left.
   */
  async function killMidFork(phase: () => Promise<boolean>): Promise<void> {
    const before = await count(parent.id);
    const res = await fork(parent);
    expect(res.status, await res.clone().text()).toBe(202);
    let seen = false;
    for (let i = 0; i < 6000 && !seen; i++) {
      seen = await phase();
      if (!seen) await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen, 'the fork never reached the phase to kill it in').toBe(true);
    hostd!.kill('SIGKILL');
    await new Promise((r) => hostd!.once('exit', r));
    console.log(`hostd killed; parent ${await domainState(parent.vm.domainName)}, domains ${JSON.stringify(await hostDomains())}, fork points ${JSON.stringify(forkPoints())}, streams ${JSON.stringify(streams())}`);

    hostd = startHostdProcess(stack);
    const out = await settled(stack, res); // the job, stalled, is handed to the new hostd
    const body = (await out.json()) as ErrorBody;
    console.log(`fork across the kill: HTTP ${out.status} ${body.error?.code}: ${body.error?.message}`);
    expect(out.status).toBe(503);
    expect(body.error.code).toBe('ERR_INTERRUPTED');
    expect(await domainState(parent.vm.domainName)).toBe('running');
    await countsOn(parent.id, before);
    // The new hostd published the parent's port again, and nothing else.
    ports = await hostdPorts();
    expect(ports).toEqual(parent.ports.map((p) => p.hostPort));
    await onlyTheParent(parent, ports);
  }

  it('fails ERR_INTERRUPTED when hostd is killed while the parent is paused; the next hostd resumes it and leaves nothing', async () => {
    await killMidFork(async () => (await domainState(parent.vm.domainName)) === 'paused');
  }, 180_000);

  it('fails ERR_INTERRUPTED when hostd is killed while the freezer loads the stream; the next hostd destroys the freezer', async () => {
    await killMidFork(async () => (await hostDomains()).some((d) => d.startsWith('forkd-tmpl-frz-')));
  }, 180_000);

  it('forks the parent again after both kills (the control)', async () => {
    await forkWorks(parent, ports);
  }, 180_000);
});
