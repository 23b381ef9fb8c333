// `forkd up` stopped with SIGTERM, as a service manager or a user stops it,
// leaves nothing of its warm pool behind: no pool shell domain, no shell
// directory (its disk overlay), no tap. Twice: with a ready shell waiting, and
// while the pool is refilling at start-up (a shell being made when the signal
// comes). Everything is found by this stack's own host id and data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetadataType, Connection } from '../native/libvirt/index.js';
import { PACKAGE_ROOT, dataPaths } from '../services/contracts/config.js';
import { createLogger } from '../services/contracts/logger.js';
import { PrivateRedis } from '../services/cli/private-redis.js';
import { ip } from '../services/hostd/network/commands.js';
import { releaseDataDirNetworking } from '../services/hostd/network/release.js';
import { tapsInDomainXml } from '../services/hostd/network/taps.js';
import { FORKD_XMLNS } from '../services/hostd/vm/domain-xml.js';
import { parseDomainMetadata } from '../services/hostd/vm/vm-record.js';
import { settled, sharedCacheDataDir } from './harness.js';

const hostId = `test-stop-${process.pid}`;
let dataDir = '';
let redis: PrivateRedis;
let conn: Connection;

interface Up {
  child: ChildProcess;
  /** The API's URL once `forkd up` says it is up. */
  url: Promise<string>;
  exited: Promise<number | null>;
  stderr: () => string;
}

/**
 * `forkd up` on this test's data directory. `ownRedis`: no REDIS_URL, so it
 * runs its own redis-server, in its own process group as in a terminal.
 */
function forkdUp(opts: { ownRedis?: boolean; env?: NodeJS.ProcessEnv } = {}): Up {
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'forkd.js'), 'up'], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME,
      FORKD_DATA_DIR: dataDir, FORKD_LISTEN: '127.0.0.1:0', FORKD_HOST_ID: hostId, FORKD_LOG_LEVEL: 'info',
      ...(opts.ownRedis ? {} : { REDIS_URL: redis.url }),
      ...opts.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: opts.ownRedis === true,
  });
  let stderr = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /forkd is up: (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`forkd up exited (${code}) before it was up:\n${stderr.slice(-3000)}`)));
  });
  url.catch(() => {}); // a test that never waits for the URL still sees the exit through `exited`
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const up = { child, url, exited, stderr: () => stderr };
  started.push(up);
  return up;
}

/** Every `forkd up` this file started: afterAll kills what a failed test left running (its own redis-server too). */
const started: Up[] = [];

/**
 * Sends SIGTERM (to its whole process group with `group`, as Ctrl-C or a
 * service manager does) and waits for the exit: SIGKILL after 3 minutes, and
 * the test fails on the missing exit code 0.
 */
async function stopWithSigterm(up: Up, opts: { group?: boolean } = {}): Promise<number | null> {
  if (opts.group) process.kill(-up.child.pid!, 'SIGTERM');
  else up.child.kill('SIGTERM');
  const timer = setTimeout(() => up.child.kill('SIGKILL'), 180_000);
  const code = await up.exited;
  clearTimeout(timer);
  return code;
}

/** forkd's log for a failed assertion, without the lines a lost Redis repeats. */
function logTail(up: Up): string {
  return up.stderr().split('\n').filter((l) => !/queue worker error/.test(l)).slice(-40).join('\n');
}

interface HostDomain {
  name: string;
  kind: string;
  taps: string[];
}

/** This stack's domains (forkd metadata naming this host id), with their kind and taps. */
async function hostDomains(): Promise<HostDomain[]> {
  const found: HostDomain[] = [];
  for (const d of await conn.listAllDomains(0)) {
    const md = parseDomainMetadata(await d.getMetadata(MetadataType.ELEMENT, FORKD_XMLNS).catch(() => null));
    if (md?.host === hostId) found.push({ name: d.name, kind: md.kind, taps: tapsInDomainXml(await d.getXMLDesc(0).catch(() => '')) });
    await d.free();
  }
  return found;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null> | T | null, tries = 2400, everyMs = 250): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const poolDir = (): string => join(dataDir, 'run', 'pool');
const poolEntries = (): string[] => (existsSync(poolDir()) ? readdirSync(poolDir()) : []);
const tapMarkers = (): string[] => (existsSync(join(dataDir, 'run', 'taps')) ? readdirSync(join(dataDir, 'run', 'taps')) : []);

async function linkExists(name: string): Promise<boolean> {
  const links = JSON.parse((await ip(['-j', 'link', 'show'], 'links')) || '[]') as { ifname: string }[];
  return links.some((l) => l.ifname === name);
}

/** What a clean stop must leave: no domain of this host, no pool shell directory, none of the shells' taps, no tap marker. */
async function expectNothingLeft(shellTaps: string[]): Promise<void> {
  expect(await hostDomains()).toEqual([]);
  expect(poolEntries()).toEqual([]);
  for (const t of shellTaps) expect(await linkExists(t), `tap ${t}`).toBe(false);
  expect(tapMarkers()).toEqual([]);
}

beforeAll(async () => {
  dataDir = sharedCacheDataDir('stop');
  redis = new PrivateRedis(join(dataDir, 'redis.sock'), join(dataDir, 'redis'));
  await redis.start();
  conn = await Connection.open();
});

afterAll(async () => {
  // A failed test may leave its forkd running: kill it by pid (its process group when it has its own).
  for (const up of started) {
    const pid = up.child.pid;
    if (pid === undefined || up.child.exitCode !== null || up.child.signalCode !== null) continue;
    // A detached child leads its own group (its redis-server is in it); otherwise -pid names no group and the child alone goes.
    try { process.kill(-pid, 'SIGKILL'); } catch { up.child.kill('SIGKILL'); }
    await up.exited;
  }
  // Whatever a failed run left, removed by this host id and data directory only.
  for (const d of (await hostDomains().catch(() => [])).map((x) => x.name)) {
    const dom = await conn.lookupDomainByName(d);
    await dom?.destroy().catch(() => {});
    await dom?.free();
  }
  await conn?.close();
  await redis?.stop();
  if (dataDir) {
    await releaseDataDirNetworking(join(dataDir, 'run'), createLogger('warn', { svc: 'test-stop' }));
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe('forkd up stopped with SIGTERM', () => {
  it('destroys a ready warm-pool shell, its disk and its tap', async () => {
    const up = forkdUp();
    const url = await up.url;
    const key = readFileSync(dataPaths(dataDir).adminKey, 'utf8').trim();
    const api = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { ...init.headers as Record<string, string>, authorization: `Bearer ${key}` } });
    // The create answers 202 with an operation; followed to its end, it is the ready template.
    const res = await settled({ api }, await api('/v1/templates', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ poolSize: 1 }),
    }));
    expect(res.status, await res.clone().text()).toBe(202);
    // Positive control: the pool really holds a running shell of this host before the stop.
    const shells = await waitFor('a warm-pool shell', async () => {
      const s = (await hostDomains()).filter((d) => d.kind === 'pool');
      return s.length > 0 ? s : null;
    });
    expect(poolEntries().length).toBeGreaterThan(0);

    const code = await stopWithSigterm(up);
    expect(code, logTail(up)).toBe(0);
    await expectNothingLeft(shells.flatMap((s) => s.taps));
  });

  it('destroys the shell it was making when the signal came during start-up\'s refill', async () => {
    // The template (pool size 1) is on disk: start-up refills its pool. The signal
    // comes the moment the shell's directory appears, before it has become a domain.
    expect(poolEntries()).toEqual([]);
    const up = forkdUp();
    await waitFor('the pool to start refilling', () => (poolEntries().length > 0 ? true : null), 12_000, 10);

    const code = await stopWithSigterm(up);
    expect(code, logTail(up)).toBe(0);
    expect(up.stderr()).toMatch(/stopping \(SIGTERM\)/);
    await expectNothingLeft([]);
  });

  it('destroys the shells when the whole process group gets it, its own Redis included', async () => {
    // A terminal's Ctrl-C or a service manager signals forkd and its private
    // redis-server at once: everything that waits on Redis may then hang.
    await redis.stop();
    const up = forkdUp({ ownRedis: true, env: { FORKD_STOP_TIMEOUT_SEC: '15' } });
    await up.url;
    const shells = await waitFor('a warm-pool shell', async () => {
      const s = (await hostDomains()).filter((d) => d.kind === 'pool');
      return s.length > 0 ? s : null;
    });

    const code = await stopWithSigterm(up, { group: true });
    // An exit, not the SIGKILL: with Redis gone the queues may never close, and
    // then the stop ends at FORKD_STOP_TIMEOUT_SEC (status 1), saying so. The shells went first either way.
    expect([0, 1], logTail(up)).toContain(code);
    if (code === 1) expect(up.stderr()).toMatch(/did not finish within FORKD_STOP_TIMEOUT_SEC=15 s/);
    expect(up.stderr()).toMatch(/destroying warm-pool shells/);
    await expectNothingLeft(shells.flatMap((s) => s.taps));
  });
});
