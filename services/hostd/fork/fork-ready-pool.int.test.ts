// The warm pool's 'ready' mode (FORKD_POOL_MODE=ready) with the real guest
// image and agent (TCG here): a pool clone is resumed and its agent answered
// before anyone asks, yet the VM a take hands over has its own hostname,
// machine-id, MAC and RNG output as seen inside the guest (machine-id, MAC and
// entropy are applied while the clone idles, hostname and clock at the take),
// and drain destroys idle ready clones. Skipped when the agent bundle has not been built.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuestImage } from '../../../images/guest/build.js';
import { DEFAULT_AGENT_BUNDLE } from '../../../images/guest/main.js';
import { Connection } from '../../../native/libvirt/index.js';
import { PACKAGE_ROOT } from '../../contracts/config.js';
import { AgentClient } from '../agent/agent-client.js';
import { MACHINE_TYPE } from '../vm/domain-xml.js';
import { createForkPool, type ForkPool } from './fork-pool.js';
import { openTemplate, type ForkedVm, type Template } from './fork.js';
import type { ForkConnection } from './ports.js';
import { buildTemplate } from './template-builder.js';
import type { HostInfo } from './template-manifest.js';
import { busyboxHostImage, destroyDomainsNamed, domainsNamed } from '../../../test/support.js';

const SUITE = 'forkd-test-readypool-';
const APP = 'app';
const haveAgent = existsSync(DEFAULT_AGENT_BUNDLE);

let conn: Connection;
let fc: ForkConnection;
let work: string;
let runDir: string;
let template: Template;
let templateInfo: { hostname: string; machineId: string; mac: string };

const agentOf = (p: string): AgentClient => new AgentClient(p);
const ourDomains = (): Promise<string[]> => domainsNamed(conn, SUITE);

/** Runs `sh -c script` in the clone's container (it shares the VM's network namespace); returns stdout. */
async function sh(agent: AgentClient, script: string): Promise<string> {
  const h = agent.exec({ id: APP, command: ['sh', '-c', script], timeoutMs: 30_000 });
  const chunks: Buffer[] = [];
  h.stdout.on('data', (c: Buffer) => chunks.push(c));
  const r = await h.result;
  const out = Buffer.concat(chunks).toString('utf8');
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${out}`);
  return out.trim();
}

async function waitReady(pool: ForkPool<AgentClient>): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (pool.stats().ready < 1) {
    if (Date.now() > deadline) throw new Error(`no ready clone: ${JSON.stringify(pool.stats())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!haveAgent)('warm pool of ready clones', () => {
  beforeAll(async () => {
    conn = await Connection.open('qemu:///system');
    fc = conn as unknown as ForkConnection;
    await destroyDomainsNamed(conn, SUITE);
    work = await mkdtemp(join(tmpdir(), 'forkd-readypool-int-'));
    await chmod(work, 0o755); // QEMU runs as libvirt-qemu and must reach the template's files
    runDir = join(work, 'run');
    await mkdir(runDir);
    const image = await buildGuestImage({ dataDir: join(PACKAGE_ROOT, 'var'), agentBundle: DEFAULT_AGENT_BUNDLE });
    const hostImage = await busyboxHostImage(work);
    const qemuVersion = (await conn.getVersion()).string;
    const host: HostInfo = { accel: 'tcg', qemuVersion, machine: MACHINE_TYPE };
    const built = await buildTemplate({
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
        // What every clone comes back with until identity.set: the template's own identity.
        const info = await agent.call('info', {});
        templateInfo = { hostname: info.hostname, machineId: info.machineId ?? '', mac: await sh(agent, 'cat /sys/class/net/eth0/address') };
      },
    });
    template = await openTemplate(built.dir, host, 'fast');
  });

  afterAll(async () => {
    if (conn) await destroyDomainsNamed(conn, SUITE);
    await conn?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a take hands over a clone with its own hostname, machine-id, MAC and RNG state inside the guest (the request-independent part applied ahead); drain destroys ready clones', async () => {
    const pool = createForkPool<AgentClient>({ conn: fc, template, runDir, hostId: 'test', namePrefix: SUITE, size: 1, reserveMib: 256, mode: 'ready', agent: agentOf, agentTimeoutMs: 120_000 });
    const taken: Array<ForkedVm<AgentClient>> = [];
    try {
      await waitReady(pool);
      expect(pool.stats()).toMatchObject({ mode: 'ready', ready: 1 });
      // The idle ready clone is running (resumed ahead of time), not paused in -incoming defer.
      const [idle] = await ourDomains();
      const d = await conn.lookupDomainByName(idle!);
      expect((await d!.getState()).state).toBe('running');
      await d!.free();

      const randoms: string[] = [];
      for (const hostname of ['ready-1', 'ready-2']) {
        await waitReady(pool);
        const t0 = Date.now();
        const vm = await pool.take({ hostname });
        const takeMs = Date.now() - t0;
        taken.push(vm);
        console.log(`ready-pool take (ms, TCG): ${takeMs}`, vm.timings);
        expect(vm.identityResult?.applied).toEqual(expect.arrayContaining(['hostname', 'machineId', 'mac', 'entropy', 'clock']));
        const info = await vm.agent!.call('info', {});
        const mac = await sh(vm.agent!, 'cat /sys/class/net/eth0/address');
        expect(info.hostname).toBe(hostname);
        expect(info.machineId).toBe(vm.identity.machineId);
        expect(mac).toBe(vm.identity.mac);
        expect(info.hostname).not.toBe(templateInfo.hostname);
        expect(info.machineId).not.toBe(templateInfo.machineId);
        expect(mac).not.toBe(templateInfo.mac);
        // The RNG was reseeded before the take (identifyAhead): two clones of one template never draw the same bytes.
        randoms.push(await sh(vm.agent!, 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"'));
      }
      expect(randoms[0]).toMatch(/^[0-9a-f]{32}$/);
      expect(randoms[0]).not.toBe(randoms[1]);
      expect(taken[0]!.identity.machineId).not.toBe(taken[1]!.identity.machineId);
      expect(taken[0]!.identity.mac).not.toBe(taken[1]!.identity.mac);

      // Drain while a ready clone idles in the pool: it is destroyed with its files; taken VMs stay.
      await waitReady(pool);
      const before = await ourDomains();
      expect(before).toHaveLength(3);
      await pool.drain();
      expect((await ourDomains()).sort()).toEqual(taken.map((v) => v.identity.name).sort());
      expect((await readdir(runDir)).sort()).toEqual(taken.map((v) => v.identity.id).sort());
    } finally {
      await pool.drain();
      for (const vm of taken) await vm.destroy();
    }
    expect(await ourDomains()).toEqual([]);
    expect(await readdir(runDir)).toEqual([]);
  });
});
