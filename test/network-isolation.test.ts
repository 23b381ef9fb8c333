// Tenant networks and isolation, tested from inside real guests. Four VMs, one
// per way a VM is made, each with a container:
//   A  tenant 1, network `app` 10.89.1.0/24, .2, name `web`     cold boot
//   B  tenant 1, network `app`,              .3, name `client`  warm-pool take
//   C  tenant 2, network `app` 10.89.1.0/24, .2, name `web`     fresh fork (same name, subnet and address as A)
//   D  tenant 1, network `quiet` (internal) 10.89.2.0/24, .2     fresh fork
// Every "cannot reach" probe is preceded by the same probe, from the same
// guest, reaching an allowed target (a positive control), so a probe that
// fails for the wrong reason cannot pass as isolation. Probes use busybox
// `timeout N nc` (Debian's busybox 1.35 `wget -T` segfaults). Traffic goes only
// to forkd's own guests, the host side of networks this test made, and the
// host's own addresses; never out of the host.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { ImageStore } from '../images/containers/image-store.js';
import { HostJobs } from '../services/api/host-jobs.js';
import type { ContainerCreateInput, JobImage, NetworkAttachment } from '../services/contracts/jobs.js';
import { createLogger } from '../services/contracts/logger.js';
import { connectRedis } from '../services/contracts/redis.js';
import { ip } from '../services/hostd/network/commands.js';
import { netnsName, uplinkName } from '../services/hostd/network/names.js';
import { startHostd, type RunningHostd } from '../services/hostd/main.js';
import { sealedEnvFor, startStack, type Stack } from './harness.js';

const log = createLogger('warn', { svc: 'test-net' });
let stack: Stack;
let hostd: RunningHostd | undefined;
let redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
let jobs: HostJobs;
let image: JobImage;
let work: string;
const TID = `nettmpl${process.pid}`;
const host = (): string => stack.config.hostId;
const uid = `${process.pid}`;

function net(networkId: string, tenantId: string, name: string, subnet: string, address: string, aliases: string[], internal = false): NetworkAttachment {
  const gateway = subnet.replace(/\.0\/\d+$/, '.1');
  return { networkId, tenantId, name, subnet, gateway, address, internal, aliases };
}

const T1_APP = `nt1app${uid}`;
const T2_APP = `nt2app${uid}`;
const T1_QUIET = `nt1quiet${uid}`;

interface Guest {
  key: string;
  vmId: string;
  containerId: string;
  boot: string;
  timings: Record<string, number>;
}
const guests: Record<'A' | 'B' | 'C' | 'D', Guest> = {} as never;

/** An httpd that answers `hello-<key>` on 8080, and nothing else. */
const serve = (key: string): string[] => ['sh', '-c', `mkdir -p /www && echo hello-${key} > /www/index.html && httpd -p 8080 -h /www && while true; do sleep 60; done`];

async function createGuest(key: 'A' | 'B' | 'C' | 'D', boot: 'cold' | 'fork', network: NetworkAttachment): Promise<Guest> {
  const vmId = `nt${key.toLowerCase()}${uid}`;
  const containerId = `ntc${key.toLowerCase()}${uid}`;
  const input: ContainerCreateInput = {
    tenantId: network.tenantId, vmId, containerId, boot, vm: { vcpus: 1, memoryMib: 256 }, image,
    spec: { command: serve(key), env: await sealedEnvFor(stack, containerId, []), limits: {} }, ports: [], network,
    ...(boot === 'fork' ? { templateId: TID } : {}),
  };
  const out = await jobs.call(host(), 'container.create', input, { timeoutMs: 300_000 });
  const g = { key, vmId, containerId, boot: out.vm.boot, timings: out.vm.timings };
  console.log(`guest ${key} (${g.boot}) network step: ${JSON.stringify(Object.fromEntries(Object.entries(g.timings).filter(([k]) => k.startsWith('network'))))}`);
  return g;
}

/** Runs `sh -c script` in the guest's container; stdout and the exit code. */
async function sh(g: Guest, script: string): Promise<{ out: string; code: number | null }> {
  const agent = hostd!.vms.get(g.vmId).agent;
  const h = agent.exec({ id: g.containerId, command: ['sh', '-c', script], timeoutMs: 30_000 });
  const chunks: Buffer[] = [];
  h.stdout.on('data', (c: Buffer) => chunks.push(c));
  h.stderr.on('data', (c: Buffer) => chunks.push(c));
  const r = await h.result;
  return { out: Buffer.concat(chunks).toString('utf8').trim(), code: r.exitCode };
}

/** GET / from `target:port` inside the guest; the body, or null when no connection was made within 4 s. */
async function fetchIn(g: Guest, target: string, port = 8080): Promise<string | null> {
  const r = await sh(g, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 4 nc ${target} ${port} | tail -n 1`);
  return r.code === 0 && r.out.length > 0 ? r.out : null;
}

/** Can the guest open a TCP connection to target:port at all (4 s)? */
async function connects(g: Guest, target: string, port: number): Promise<boolean> {
  const r = await sh(g, `echo probe | timeout 4 nc ${target} ${port} >/dev/null 2>&1; echo rc=$?`);
  // busybox nc exits 0 once connected (the peer closes after reading), 1 on refusal/unreachable; timeout kills it with 143.
  return r.out.endsWith('rc=0');
}

/** A TCP server that counts the connections it accepts. */
interface Listener { server: Server; port: number; accepted: number }
async function listen(address: string): Promise<Listener> {
  const l: Listener = { server: createServer((s) => { l.accepted++; s.end('host says hi\n'); }), port: 0, accepted: 0 };
  await new Promise<void>((res, rej) => { l.server.once('error', rej); l.server.listen(0, address, () => res()); });
  l.port = (l.server.address() as { port: number }).port;
  return l;
}

/** A server inside a network's namespace (on the host side of the guest's own network), counting connections. */
interface NsListener { child: ChildProcess; port: number; accepted: () => number }
async function listenInNamespace(netns: string, address: string): Promise<NsListener> {
  const script = `const s=require('net').createServer(c=>{console.log('accepted');c.end('ns says hi\\n')});s.listen(0,${JSON.stringify(address)},()=>console.log('port '+s.address().port));`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no listener in ${netns}: ${text}`)), 10_000);
    child.stdout!.on('data', () => { const m = /port (\d+)/.exec(text); if (m) { clearTimeout(t); res(Number(m[1])); } });
  });
  return { child, port, accepted: () => (text.match(/accepted/g) ?? []).length };
}

async function hostAddresses(): Promise<string[]> {
  const out = JSON.parse(await ip(['-j', '-4', 'addr', 'show'], 'listing host addresses')) as Array<{ ifname: string; addr_info: Array<{ local: string }> }>;
  return out.filter((i) => i.ifname !== 'lo').flatMap((i) => i.addr_info.map((a) => a.local));
}

let hostListener: Listener;
let loopbackListener: Listener;
let nsListener: NsListener | undefined;

beforeAll(async () => {
  stack = await startStack({ name: 'net', hostd: false, env: { FORKD_POOL_SIZE: '1' } });
  hostd = await startHostd(stack.config, stack.env.REDIS_URL!, log);
  work = mkdtempSync(join(tmpdir(), 'forkd-test-net-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const up = await stack.api('/v1/images', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: readFileSync(join(work, 'busybox.tar')) });
  expect(up.status).toBe(201);
  const stored = await new ImageStore(stack.dataDir).get('busybox:latest');
  image = { id: stored.id, config: stored.config, layers: stored.layers.map((l) => ({ diffId: l.diffId, size: l.size, path: l.path })) };
  redis = await connectRedis(stack.env.REDIS_URL!);
  jobs = new HostJobs(redis, 300_000);
  await jobs.call(host(), 'template.build', { templateId: TID, image, vcpus: 1, memoryMib: 256, poolSize: 1, containers: [] }, { timeoutMs: 400_000 });
  // A waits for nothing; B must come from the pool, so wait for its shell first.
  guests.A = await createGuest('A', 'cold', net(T1_APP, 't1', 'app', '10.89.1.0/24', '10.89.1.2', ['web']));
  const deadline = Date.now() + 240_000;
  while ((await jobs.call(host(), 'template.status', { templateId: TID })).pool.ready < 1) {
    if (Date.now() > deadline) throw new Error('the warm pool never got a shell');
    await new Promise((r) => setTimeout(r, 500));
  }
  guests.B = await createGuest('B', 'fork', net(T1_APP, 't1', 'app', '10.89.1.0/24', '10.89.1.3', ['client']));
  // No more pool: C and D are fresh forks.
  await jobs.call(host(), 'template.pool', { templateId: TID, size: 0 });
  guests.C = await createGuest('C', 'fork', net(T2_APP, 't2', 'app', '10.89.1.0/24', '10.89.1.2', ['web']));
  guests.D = await createGuest('D', 'fork', net(T1_QUIET, 't1', 'quiet', '10.89.2.0/24', '10.89.2.2', ['lonely'], true));
  hostListener = await listen('0.0.0.0');
  loopbackListener = await listen('127.0.0.1');
}, 1_500_000);

afterAll(async () => {
  nsListener?.child.kill();
  hostListener?.server.close();
  loopbackListener?.server.close();
  for (const g of Object.values(guests)) await jobs?.call(host(), 'vm.destroy', { vmId: g.vmId }).catch(() => undefined);
  for (const n of [T1_APP, T2_APP, T1_QUIET]) await jobs?.call(host(), 'network.remove', { networkId: n }).catch(() => undefined);
  await jobs?.call(host(), 'template.delete', { templateId: TID }).catch(() => undefined);
  await jobs?.close();
  await redis?.quit();
  await hostd?.stop();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('VMs made every way', () => {
  it('were made cold, from the warm pool and by a fresh fork, and each timed its network step', () => {
    expect(guests.A.boot).toBe('cold');
    expect(guests.B.boot).toBe('pool');
    expect(guests.C.boot).toBe('fork');
    expect(guests.D.boot).toBe('fork');
    for (const g of Object.values(guests)) expect(g.timings['networkMs']).toBeGreaterThanOrEqual(0);
  });
});

describe('one tenant, one network', () => {
  it('containers talk TCP both ways, by name and by address', async () => {
    expect(await fetchIn(guests.B, 'web')).toBe('hello-A');
    expect(await fetchIn(guests.B, '10.89.1.2')).toBe('hello-A');
    expect(await fetchIn(guests.A, 'client')).toBe('hello-B');
  });

  it('each guest has its address, and a default route only where the network has a way out', async () => {
    expect((await sh(guests.A, 'ip -4 addr show dev eth0')).out).toContain('10.89.1.2/24');
    expect((await sh(guests.A, 'ip route')).out).toContain('default via 10.89.1.1');
    expect((await sh(guests.D, 'ip -4 addr show dev eth0')).out).toContain('10.89.2.2/24');
  });
});

describe('two tenants, same network name, same subnet, same address', () => {
  it('reach only their own: tenant 2 never reaches tenant 1, by any address', async () => {
    // Positive control: C reaches its own `web` (itself, in tenant 2).
    expect(await fetchIn(guests.C, 'web')).toBe('hello-C');
    expect(await fetchIn(guests.C, '10.89.1.2')).toBe('hello-C');
    // Tenant 1's B at .3 is not there for tenant 2.
    expect(await connects(guests.C, '10.89.1.3', 8080)).toBe(false);
    const theirHosts = (await sh(guests.C, 'cat /etc/hosts')).out;
    expect(theirHosts).toMatch(/10\.89\.1\.2\s+web/); // their own peer list is there…
    expect(theirHosts).not.toContain('client'); // …without tenant 1's names
    // And from tenant 1's side, 10.89.1.2 is A, never C.
    expect(await fetchIn(guests.B, '10.89.1.2')).toBe('hello-A');
  });
});

describe('an internal network', () => {
  it('has no route out, and its guest reaches no other network', async () => {
    expect(await fetchIn(guests.D, '10.89.2.2')).toBe('hello-D'); // positive control: the probe works here
    expect((await sh(guests.D, 'ip route')).out).not.toContain('default');
    // A route lookup only; nothing is sent.
    expect((await sh(guests.D, 'ip route get 10.89.2.3 2>&1')).out).toContain('dev eth0'); // its own subnet routes
    expect((await sh(guests.D, 'ip route get 10.89.1.2 2>&1')).out).toMatch(/unreachable/i);
    expect(await connects(guests.D, '10.89.1.2', 8080)).toBe(false);
  });
});

describe('no guest reaches the host', () => {
  it('by the host side of its own network (the gateway, in the network namespace)', async () => {
    const listener = await listenInNamespace(netnsName(T1_APP), '10.89.1.1');
    nsListener = listener;
    await Promise.all([guests.A, guests.B].map(async (g) => {
      expect(await fetchIn(g, 'web')).toBe('hello-A'); // positive control, same tool, same guest
      expect(await connects(g, '10.89.1.1', listener.port)).toBe(false);
    }));
    expect(listener.accepted()).toBe(0);
  });

  it('by any of the host\'s addresses, the uplink\'s transit address or loopback', async () => {
    const uplink = JSON.parse(await ip(['-j', '-4', 'addr', 'show', 'dev', uplinkName(T1_APP)], 'uplink address')) as Array<{ addr_info: Array<{ local: string }> }>;
    const targets = [...new Set([...(await hostAddresses()), uplink[0]!.addr_info[0]!.local])];
    expect(targets.length).toBeGreaterThan(1);
    // A refused probe waits out its 4 s timeout (packets are dropped, not rejected), so every guest
    // probes every target at once: the same probes, without 40-odd timeouts in a row.
    await Promise.all((['A', 'B', 'C', 'D'] as const).map(async (key) => {
      const g = guests[key];
      const own = key === 'D' ? '10.89.2.2' : 'web';
      expect(await fetchIn(g, own), `positive control in ${key}`).toMatch(/^hello-/);
      const toHost = await Promise.all(targets.map((t) => connects(g, t, hostListener.port)));
      targets.forEach((t, i) => expect(toHost[i], `${key} → ${t}`).toBe(false));
      // 127.0.0.1 in a guest is the guest's own loopback (its httpd answers there); the host's loopback listener is out of reach.
      const [ownLoopback, hostLoopback] = await Promise.all([connects(g, '127.0.0.1', 8080), connects(g, '127.0.0.1', loopbackListener.port)]);
      expect(ownLoopback, `${key} own loopback`).toBe(true);
      expect(hostLoopback, `${key} → host loopback`).toBe(false);
    }));
    expect(hostListener.accepted).toBe(0);
    expect(loopbackListener.accepted).toBe(0);
  });
});

describe('leaving', () => {
  it('a destroyed VM takes its tap with it and its peers forget its name; a removed network leaves no namespace', async () => {
    expect((await sh(guests.A, 'cat /etc/hosts')).out).toContain('client'); // known while B is there
    const tapOfB = hostd!.vms.get(guests.B.vmId).record.tap!;
    expect(await ip(['-j', 'link', 'show'], 'links', netnsName(T1_APP))).toContain(tapOfB);
    await jobs.call(host(), 'vm.destroy', { vmId: guests.B.vmId });
    expect(await ip(['-j', 'link', 'show'], 'links', netnsName(T1_APP))).not.toContain(tapOfB);
    // Peers learn of a departure in the background (a join or a destroy never waits for every member).
    const deadline = Date.now() + 30_000;
    while ((await sh(guests.A, 'cat /etc/hosts')).out.includes('client') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect((await sh(guests.A, 'cat /etc/hosts')).out).not.toContain('client');
    await jobs.call(host(), 'vm.destroy', { vmId: guests.D.vmId });
    expect(await jobs.call(host(), 'network.remove', { networkId: T1_QUIET })).toEqual({ removed: true });
    expect(existsSync(join('/run/netns', netnsName(T1_QUIET)))).toBe(false);
    expect(await jobs.call(host(), 'network.remove', { networkId: T1_QUIET })).toEqual({ removed: false });
  });
});
