// The fork with the real guest image and agent (TCG here): an app template
// with a running busybox container, clones that get their own identity, and
// isolation between siblings and from the template. Skipped when the agent
// bundle has not been built (`node images/guest/bundle-agent.mjs`).
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuestImage } from '../../../images/guest/build.js';
import { DEFAULT_AGENT_BUNDLE } from '../../../images/guest/main.js';
import { Connection } from '../../../native/libvirt/index.js';
import { PACKAGE_ROOT } from '../../contracts/config.js';
import { AgentClient } from '../agent/agent-client.js';
import { MACHINE_TYPE } from '../vm/domain-xml.js';
import { createForkPool } from './fork-pool.js';
import { forkFromTemplate, openTemplate, type ForkedVm, type ForkTimings, type Template } from './fork.js';
import type { ForkConnection } from './ports.js';
import { domainQmp } from './qmp.js';
import { buildTemplate, type TemplateBuildResult } from './template-builder.js';
import { verifyTemplateFiles, type HostInfo } from './template-manifest.js';
import { busyboxHostImage, destroyDomainsNamed, domainsNamed } from '../../../test/support.js';

const SUITE = 'forkd-test-forkagent-';
const APP = 'app';
const haveAgent = existsSync(DEFAULT_AGENT_BUNDLE);

let conn: Connection;
let fc: ForkConnection;
let work: string;
let runDir: string;
let built: TemplateBuildResult;
let template: Template;
let host: HostInfo;

const agentOf = (p: string): AgentClient => new AgentClient(p);

const ourDomains = (): Promise<string[]> => domainsNamed(conn, SUITE);
const cleanup = (): Promise<void> => destroyDomainsNamed(conn, SUITE);

/** Runs `sh -c script` in the clone's container; returns stdout (throws on a non-zero exit). */
async function sh(vm: ForkedVm<AgentClient>, script: string): Promise<string> {
  const h = vm.agent!.exec({ id: APP, command: ['sh', '-c', script], timeoutMs: 30_000 });
  const chunks: Buffer[] = [];
  const err: Buffer[] = [];
  h.stdout.on('data', (c: Buffer) => chunks.push(c));
  h.stderr.on('data', (c: Buffer) => err.push(c));
  const r = await h.result;
  const out = Buffer.concat(chunks).toString('utf8');
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${out} ${Buffer.concat(err).toString('utf8')}`);
  return out.trim();
}

function fork(): Promise<ForkedVm<AgentClient>> {
  return forkFromTemplate({ conn: fc, template, host, runDir, hostId: 'test', namePrefix: SUITE, agent: agentOf, agentTimeoutMs: 60_000 });
}

/** Proportional set size and private anonymous memory of a domain's QEMU process, in MiB. */
async function pss(name: string): Promise<{ pssMib: number; anonMib: number }> {
  const pid = (await readFile(`/run/libvirt/qemu/${name}.pid`, 'utf8')).trim();
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
  return { pssMib: Math.round(kb('Pss') / 1024), anonMib: Math.round(kb('Anonymous') / 1024) };
}

const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe.skipIf(!haveAgent)('fork with the guest agent', () => {
  beforeAll(async () => {
    conn = await Connection.open('qemu:///system');
    fc = conn as unknown as ForkConnection;
    await cleanup();
    work = await mkdtemp(join(tmpdir(), 'forkd-forkagent-int-'));
    await chmod(work, 0o755); // QEMU runs as libvirt-qemu and must reach the template's files
    runDir = join(work, 'run');
    await mkdir(runDir);
    const image = await buildGuestImage({ dataDir: join(PACKAGE_ROOT, 'var'), agentBundle: DEFAULT_AGENT_BUNDLE });

    // A one-layer busybox image for the app container.
    const hostImage = await busyboxHostImage(work);

    const qemuVersion = (await conn.getVersion()).string;
    host = { accel: 'tcg', qemuVersion, machine: MACHINE_TYPE };
    built = await buildTemplate({
      conn: fc,
      image,
      vcpus: 1,
      memoryMib: 256,
      accel: 'tcg',
      dir: join(work, 'tmpl'),
      id: 'app',
      name: `${SUITE}tmpl`,
      hostId: 'test',
      qemuVersion,
      network: 'tap',
      agent: agentOf,
      readyTimeoutMs: 300_000,
      prepare: async (agent) => {
        await agent.importImage(hostImage);
        await agent.call('container.create', { id: APP, image: hostImage.id, command: ['sleep', '100000'] });
        await agent.call('container.start', { id: APP });
      },
    });
    template = await openTemplate(built.dir, host, 'full');
    console.log('app template build (guest image + agent + busybox container, 256 MiB, TCG):', built.timings);
  });

  afterAll(async () => {
    await cleanup();
    await conn?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('gives each clone its own identity and keeps siblings and the template apart', async () => {
    const a = await fork();
    const b = await fork();
    try {
      // Identity: hostnames as reported by the guest, and everything else distinct.
      const [ia, ib] = await Promise.all([a.agent!.call('info', {}), b.agent!.call('info', {})]);
      expect(ia.hostname).toBe(a.identity.hostname);
      expect(ib.hostname).toBe(b.identity.hostname);
      expect(ia.hostname).not.toBe(ib.hostname);
      for (const k of ['mac', 'machineId', 'uuid', 'genid', 'entropy'] as const) expect(a.identity[k]).not.toBe(b.identity[k]);
      for (const vm of [a, b]) expect(vm.identityResult?.applied).toEqual(expect.arrayContaining(['clock', 'machineId', 'hostname', 'entropy']));

      console.log('memory of two sibling clones (QEMU process; includes the TCG translation cache):', await pss(a.identity.name), await pss(b.identity.name));

      // MAC (docs/clone-hazards.md): virtio-net comes back with the template's MAC from the
      // device state; identity.set {mac} has the guest set its clone's. Read from inside the
      // guest (containers share the VM's network namespace), and QEMU's filter follows.
      const macs = await Promise.all([a, b].map((vm) => sh(vm, 'cat /sys/class/net/eth0/address')));
      console.log('guest-visible eth0 MAC:', macs, 'XML MACs:', a.identity.mac, b.identity.mac);
      expect(macs).toEqual([a.identity.mac, b.identity.mac]);
      expect(macs[0]).not.toBe(macs[1]);
      for (const vm of [a, b]) {
        expect(vm.identityResult?.applied).toContain('mac');
        expect(await sh(vm, 'cat /sys/class/net/eth0/operstate')).not.toBe('down');
        const filter = (await domainQmp(vm.domain)('query-rx-filter')) as Array<{ 'main-mac': string }>;
        expect(filter[0]?.['main-mac']).toBe(vm.identity.mac);
      }

      // machine-id as the guest's /etc/machine-id says now (read back by info; a container's
      // exec sees the container's own /etc, not the VM's).
      expect(ia.machineId).toBe(a.identity.machineId);
      expect(ib.machineId).toBe(b.identity.machineId);
      expect(ia.machineId).not.toBe(ib.machineId);

      // The app container survived the fork in both.
      const list = await a.agent!.call('container.list', {});
      expect(list.containers.find((c) => c.id === APP)?.status).toBe('running');

      // RNG: different bytes in each clone.
      const [ra, rb] = await Promise.all([sh(a, 'head -c 16 /dev/urandom | od -An -tx1'), sh(b, 'head -c 16 /dev/urandom | od -An -tx1')]);
      expect(ra).not.toBe(rb);

      // Disk and memory isolation: a file on the (overlay) disk and one in tmpfs.
      await sh(a, 'echo from-a > /written-by-a && echo from-a > /dev/shm/written-by-a');
      expect(await sh(a, 'cat /written-by-a /dev/shm/written-by-a')).toBe('from-a\nfrom-a');
      expect(await sh(b, 'ls /written-by-a /dev/shm/written-by-a 2>&1 || true')).toMatch(/No such file[\s\S]*No such file/);
    } finally {
      await a.destroy();
      await b.destroy();
    }
    // The template's files did not change (full checksums).
    await verifyTemplateFiles(built.dir, built.manifest, 'full');
    expect(await ourDomains()).toEqual([]);
    expect(await readdir(runDir)).toEqual([]);
  });

  it('measures fork timings with the agent (p50 of 5) and a pool take', async () => {
    const all: ForkTimings[] = [];
    for (let i = 0; i < 5; i++) {
      const vm = await fork();
      all.push(vm.timings);
      await vm.destroy();
    }
    const keys = Object.keys(all[0]!) as (keyof ForkTimings)[];
    console.log('fork p50 of 5 (ms, guest image + agent, 256 MiB, TCG):', Object.fromEntries(keys.map((k) => [k, p50(all.map((t) => t[k]))])));

    const pool = createForkPool({ conn: fc, template, runDir, hostId: 'test', namePrefix: SUITE, size: 1, reserveMib: 256, agent: agentOf, agentTimeoutMs: 60_000 });
    try {
      const deadline = Date.now() + 60_000;
      while (pool.stats().ready < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      const vm = await pool.take({ hostname: 'pooled-1' });
      console.log('pool take (ms, guest image + agent, TCG):', Date.now() - t0, vm.timings);
      expect((await vm.agent!.call('info', {})).hostname).toBe('pooled-1');
      await vm.destroy();
    } finally {
      await pool.drain();
    }

    // The same with the clock set in the background.
    const pool2 = createForkPool({ conn: fc, template, runDir, hostId: 'test', namePrefix: SUITE, size: 1, reserveMib: 256, agent: agentOf, agentTimeoutMs: 60_000, clock: 'background' });
    try {
      const deadline = Date.now() + 60_000;
      while (pool2.stats().ready < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      const vm = await pool2.take({});
      console.log('pool take, clock in background (ms):', Date.now() - t0, vm.timings);
      await new Promise((r) => setTimeout(r, 1500));
      const guestNow = Number(await sh(vm, 'date +%s')) * 1000;
      expect(Math.abs(guestNow - Date.now())).toBeLessThan(3000);
      await vm.destroy();
    } finally {
      await pool2.drain();
    }
    expect(await ourDomains()).toEqual([]);
  });
});
