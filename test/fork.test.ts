// Templates and forks end to end through hostd's jobs on real guests: one
// busybox template (image baked in, warm pool of 1) serves every assertion:
// two fresh forks with their own identity, a pool take, container.create with
// boot 'fork', corrupt and stale templates refused with nothing started, a
// hostd restart (forked VMs adopted; a leftover pool shell and a half-made
// clone destroyed), and delete draining the pool. Timings are printed, never
// asserted.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { importImageArchive } from '../images/containers/image-import.js';
import { ImageStore } from '../images/containers/image-store.js';
import { MetadataType, type Connection } from '../native/libvirt/index.js';
import { HostJobs } from '../services/api/host-jobs.js';
import { dataPaths } from '../services/contracts/config.js';
import { ForkdError } from '../services/contracts/errors.js';
import type { JobImage, JobInput, JobName, JobOutput, TemplateBuildInput, VmFacts } from '../services/contracts/jobs.js';
import { createLogger } from '../services/contracts/logger.js';
import { connectRedis } from '../services/contracts/redis.js';
import { FORK_FORMAT_VERSION, startCloneShell } from '../services/hostd/fork/fork.js';
import { openLibvirt } from '../services/hostd/libvirt.js';
import { startHostd, type RunningHostd } from '../services/hostd/main.js';
import { templateDirs } from '../services/hostd/templates/template-store.js';
import { FORKD_XMLNS } from '../services/hostd/vm/domain-xml.js';
import { parseDomainMetadata } from '../services/hostd/vm/vm-record.js';
import { sealedEnvFor, startStack, type Stack } from './harness.js';

let stack: Stack;
let hostd: RunningHostd | undefined;
let conn: Connection;
let redis: Redis;
let jobs: HostJobs;
let work: string;
let image: JobImage;
const log = createLogger('warn', { svc: 'test-fork' });
const TID = `bb-${process.pid}`;
const spec = { command: ['sh', '-c', 'echo hi'], env: ['PATH=/bin'], limits: {} };

function call<N extends JobName>(name: N, input: JobInput<N>, timeoutMs = 120_000): Promise<JobOutput<N>> {
  return jobs.call(stack.config.hostId, name, input, { timeoutMs });
}

/** This test host's domains, by forkd's metadata. */
async function ourDomains(): Promise<Array<{ name: string; kind: string; vm: string }>> {
  const out: Array<{ name: string; kind: string; vm: string }> = [];
  for (const d of await conn.listAllDomains(0)) {
    const md = parseDomainMetadata(await d.getMetadata(MetadataType.ELEMENT, FORKD_XMLNS).catch(() => null));
    if (md?.host === stack.config.hostId) out.push({ name: d.name, kind: md.kind, vm: md.vm });
    await d.free();
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, `expected ${code}`).toBeInstanceOf(ForkdError);
  expect((err as ForkdError).code).toBe(code);
}

const buildInput = (): TemplateBuildInput => ({ templateId: TID, image, vcpus: 1, memoryMib: 256, poolSize: 1, containers: [] });
const vmId = (n: string): string => `f${process.pid}-${n}`;

beforeAll(async () => {
  // FORKD_TEST_POOL_MODE=shell runs the same assertions with hostd's pool of paused shells (FORKD_POOL_MODE=shell; the default is ready).
  const poolMode = process.env.FORKD_TEST_POOL_MODE;
  stack = await startStack({ name: 'fork', hostd: false, ...(poolMode ? { env: { FORKD_POOL_MODE: poolMode } } : {}) });
  hostd = await startHostd(stack.config, stack.env.REDIS_URL!, log);
  conn = await openLibvirt('qemu:///system');
  redis = await connectRedis(stack.env.REDIS_URL!);
  jobs = new HostJobs(redis, 120_000);
  work = mkdtempSync(join(tmpdir(), 'forkd-test-fork-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const stored = await importImageArchive(join(work, 'busybox.tar'), new ImageStore(stack.dataDir));
  image = { id: stored.id, config: stored.config, layers: stored.layers.map((l) => ({ diffId: l.diffId, size: l.size, path: l.path })) };
});

afterAll(async () => {
  await hostd?.stop();
  if (conn) {
    for (const d of await ourDomains().catch(() => [])) {
      const h = await conn.lookupDomainByName(d.name);
      await h?.destroy().catch(() => undefined);
      await h?.free();
    }
    await conn.close();
  }
  await jobs?.close();
  await redis?.quit();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a busybox template', () => {
  const forked: VmFacts[] = [];

  it('builds once (a concurrent build of the same id shares it) with the image inside', async () => {
    const t0 = Date.now();
    const [a, b] = await Promise.all([call('template.build', buildInput(), 300_000), call('template.build', buildInput(), 300_000)]);
    console.log(`template.build: ${Date.now() - t0} ms (buildMs ${a.buildMs}), files ${JSON.stringify(a.files)}`);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ templateId: TID, accel: hostd!.accel.accel, formatVersion: FORK_FORMAT_VERSION, pool: { target: 1 } });
    const again = await call('template.build', buildInput());
    expect(again).toMatchObject({ templateId: TID, buildMs: a.buildMs });
    expect((await ourDomains()).filter((d) => d.kind === 'tmpl')).toEqual([]);
  });

  it('forks two VMs with their own identity, registered like cold VMs', async () => {
    for (const n of ['a', 'b']) {
      const t0 = Date.now();
      const f = await call('vm.fork', { vmId: vmId(n), templateId: TID, usePool: false });
      console.log(`vm.fork (fresh) ${n}: ${Date.now() - t0} ms job, timings ${JSON.stringify(f.timings)}`);
      expect(f).toMatchObject({ vmId: vmId(n), domainName: `forkd-vm-${vmId(n)}`, boot: 'fork' });
      forked.push(f);
    }
    const infos = await Promise.all(forked.map((f) => hostd!.vms.get(f.vmId).agent.call('info', {})));
    expect(infos.map((i) => i.hostname)).toEqual(forked.map((f) => `vm-${f.vmId.replace(/-/g, '').slice(0, 12)}`));
    const domains = await ourDomains();
    for (const f of forked) expect(domains).toContainEqual({ name: f.domainName, kind: 'vm', vm: f.vmId });
    const genids = await Promise.all(forked.map(async (f) => {
      const d = await conn.lookupDomainByName(f.domainName);
      const xml = await d!.getXMLDesc();
      await d!.free();
      return /<genid>([^<]+)<\/genid>/.exec(xml)?.[1];
    }));
    expect(genids[0]).toBeTruthy();
    expect(genids[0]).not.toBe(genids[1]);
    const listed = await call('vm.list', {});
    expect(listed.vms.map((v) => v.vmId)).toEqual(expect.arrayContaining(forked.map((f) => f.vmId)));
  });

  it('takes a ready shell from the warm pool', async () => {
    await until('a ready pool shell', async () => (await call('template.status', { templateId: TID })).pool.ready === 1);
    const t0 = Date.now();
    const f = await call('vm.fork', { vmId: vmId('p'), templateId: TID, usePool: true });
    const ms = Date.now() - t0;
    console.log(`vm.fork (pool): ${ms} ms job, timings ${JSON.stringify(f.timings)}; fresh forks: ${forked.map((x) => x.timings['forkTotalMs']).join(', ')} ms`);
    expect(f.boot).toBe('pool');
    expect(f.domainName).toMatch(/^forkd-pool-/);
    expect((await hostd!.vms.get(f.vmId).agent.call('info', {})).hostname).toBe(`vm-${f.vmId.replace(/-/g, '').slice(0, 12)}`);
    expect(await ourDomains()).toContainEqual({ name: f.domainName, kind: 'vm', vm: f.vmId });
    expect(existsSync(join(dataPaths(stack.dataDir).vms, f.vmId, 'vm.json'))).toBe(true);
    forked.push(f);
  });

  it('runs a container in a forked VM (boot fork): echo hi exits 0, image layers already present', async () => {
    const id = vmId('c');
    const t0 = Date.now();
    const created = await call('container.create', {
      tenantId: 't1', vmId: id, containerId: `c${process.pid}`, boot: 'fork', templateId: TID,
      vm: { vcpus: 1, memoryMib: 256 }, image, spec: { ...spec, env: await sealedEnvFor(stack, `c${process.pid}`, spec.env) }, ports: [],
    });
    const createdMs = Date.now() - t0;
    expect(['fork', 'pool']).toContain(created.vm.boot);
    const vm = hostd!.vms.get(id);
    const h = vm.agent.logs({ id: `c${process.pid}`, follow: true });
    let firstOutput = '';
    for await (const rec of h.records) {
      firstOutput = rec.text;
      break;
    }
    const outMs = Date.now() - t0;
    const waited = await call('container.wait', { vmId: id, containerId: `c${process.pid}`, timeoutMs: 60_000 });
    console.log(`container.create boot fork: job ${createdMs} ms, first output ${outMs} ms, timings ${JSON.stringify(created.vm.timings)}`);
    expect(firstOutput.trim()).toBe('hi');
    expect(waited).toMatchObject({ state: 'exited', exitCode: 0 });
    expect(created.vm.timings['imageImportMs']).toBeLessThan(10_000);
    // The template was built for this image: its forks' guests hold it, and hostd asks the guest nothing about it.
    expect(created.vm.timings['imagePreloaded']).toBe(1);
    expect(await call('vm.destroy', { vmId: id })).toEqual({ destroyed: true });
  });

  it('a create from a ready pool clone takes the container the clone held ahead: its start hands over the request\'s command', async () => {
    if (process.env.FORKD_TEST_POOL_MODE === 'shell') return; // shells hold nothing (docs/fork.md "Containers held ahead")
    await until('a ready pool clone', async () => (await call('template.status', { templateId: TID })).pool.ready === 1, 120_000);
    const id = vmId('h');
    const cid = `h${process.pid}`;
    const heldSpec = { ...spec, command: ['sh', '-c', 'echo "held $(hostname) $GREETING"; exit 7'], env: [...spec.env, 'GREETING=from-the-request'] };
    const created = await call('container.create', {
      tenantId: 't1', vmId: id, containerId: cid, boot: 'fork', templateId: TID,
      vm: { vcpus: 1, memoryMib: 256 }, image, spec: { ...heldSpec, env: await sealedEnvFor(stack, cid, heldSpec.env) }, ports: [],
    });
    expect(created.vm.boot).toBe('pool');
    expect(created.vm.timings['containerHeld']).toBe(1);
    const waited = await call('container.wait', { vmId: id, containerId: cid, timeoutMs: 60_000 });
    expect(waited).toMatchObject({ state: 'exited', exitCode: 7 });
    const out: string[] = [];
    for await (const rec of hostd!.vms.get(id).agent.logs({ id: cid }).records) out.push(rec.text);
    // The VM's hostname (a container alone in its VM answers to it), set in the held container's UTS namespace at the take.
    expect(out).toEqual([`held vm-${id.replace(/-/g, '').slice(0, 12)} from-the-request`]);
    expect(await call('vm.destroy', { vmId: id })).toEqual({ destroyed: true });
  });

  it('refuses a template with a corrupt state file or a missing memory file: ERR_TEMPLATE_CORRUPT, no domain', async () => {
    const dirs = templateDirs(stack.dataDir);
    const src = join(dirs.templates, TID);
    const bad = join(dirs.templates, `${TID}-bad`);
    mkdirSync(bad);
    cpSync(join(src, 'manifest.json'), join(bad, 'manifest.json'));
    const state = readFileSync(join(src, 'state'));
    state[state.length >> 1] = (state[state.length >> 1] ?? 0) ^ 0xff;
    writeFileSync(join(bad, 'state'), state);
    symlinkSync(join(src, 'memory'), join(bad, 'memory'));
    symlinkSync(join(src, 'disk.qcow2'), join(bad, 'disk.qcow2'));
    const before = await ourDomains();
    await expectCode(call('vm.fork', { vmId: vmId('x'), templateId: `${TID}-bad`, usePool: false }), 'ERR_TEMPLATE_CORRUPT');
    expect(await call('template.status', { templateId: `${TID}-bad` })).toMatchObject({ state: 'corrupt' });
    cpSync(join(src, 'state'), join(bad, 'state'));
    rmSync(join(bad, 'memory'));
    await expectCode(call('vm.fork', { vmId: vmId('x'), templateId: `${TID}-bad`, usePool: false }), 'ERR_TEMPLATE_CORRUPT');
    expect(await ourDomains()).toEqual(before);
    expect(existsSync(join(dataPaths(stack.dataDir).vms, vmId('x')))).toBe(false);
    expect(await call('template.delete', { templateId: `${TID}-bad` })).toEqual({ deleted: true });
  });

  it('refuses a template this host does not have: ERR_NOT_FOUND, status missing', async () => {
    await expectCode(call('vm.fork', { vmId: vmId('z'), templateId: `${TID}-none`, usePool: true }), 'ERR_NOT_FOUND');
    expect(await call('template.status', { templateId: `${TID}-none` })).toMatchObject({ state: 'missing' });
  });

  it('reports a template built under another accelerator as stale and refuses to fork it', async () => {
    const dirs = templateDirs(stack.dataDir);
    const other = join(dirs.templates, `${TID}-acc`);
    mkdirSync(other);
    const m = JSON.parse(readFileSync(join(dirs.templates, TID, 'manifest.json'), 'utf8')) as { accel: string };
    m.accel = m.accel === 'kvm' ? 'tcg' : 'kvm';
    writeFileSync(join(other, 'manifest.json'), JSON.stringify(m));
    const before = await ourDomains();
    expect(await call('template.status', { templateId: `${TID}-acc` })).toMatchObject({ state: 'stale' });
    await expectCode(call('vm.fork', { vmId: vmId('y'), templateId: `${TID}-acc`, usePool: false }), 'ERR_TEMPLATE_STALE');
    expect(await ourDomains()).toEqual(before);
    expect(await call('template.delete', { templateId: `${TID}-acc` })).toEqual({ deleted: true });
  });

  it('after a hostd restart: forked VMs adopted, a leftover pool shell and a half-made clone destroyed', async () => {
    await hostd!.stop();
    hostd = undefined;
    const dirs = templateDirs(stack.dataDir);
    const template = { dir: join(dirs.templates, TID), manifest: JSON.parse(readFileSync(join(dirs.templates, TID, 'manifest.json'), 'utf8')) };
    // What a killed hostd leaves: a pool shell, and a clone whose fork never finished (no vm.json).
    const shell = await startCloneShell({ conn, template, runDir: dirs.pool, hostId: stack.config.hostId, namePrefix: 'forkd-pool-', kind: 'pool' });
    const half = await startCloneShell({ conn, template, runDir: dataPaths(stack.dataDir).vms, hostId: stack.config.hostId, id: vmId('h') });
    const names = (await ourDomains()).map((d) => d.name);
    expect(names).toEqual(expect.arrayContaining([shell.identity.name, half.identity.name]));
    hostd = await startHostd(stack.config, stack.env.REDIS_URL!, log);
    const after = await ourDomains();
    expect(after.map((d) => d.name)).not.toContain(shell.identity.name);
    expect(after.map((d) => d.name)).not.toContain(half.identity.name);
    expect(existsSync(shell.dir)).toBe(false);
    expect(existsSync(half.dir)).toBe(false);
    for (const f of forked) {
      expect(hostd.vms.get(f.vmId).record.boot).toBe(f.boot);
      expect((await hostd.vms.get(f.vmId).agent.call('info', {})).hostname).toMatch(/^vm-/);
    }
    expect(await call('template.status', { templateId: TID })).toMatchObject({ state: 'ready', pool: { target: 1 } });
  });

  it('delete drains the pool and removes the files; forked VMs are destroyed by id', async () => {
    for (const f of forked) expect(await call('vm.destroy', { vmId: f.vmId })).toEqual({ destroyed: true });
    await until('a ready pool shell', async () => (await call('template.status', { templateId: TID })).pool.ready === 1);
    expect((await ourDomains()).some((d) => d.kind === 'pool')).toBe(true);
    expect(await call('template.delete', { templateId: TID })).toEqual({ deleted: true });
    expect((await ourDomains()).some((d) => d.kind === 'pool')).toBe(false);
    expect(existsSync(join(templateDirs(stack.dataDir).templates, TID))).toBe(false);
    expect(await call('template.status', { templateId: TID })).toMatchObject({ state: 'missing' });
    expect(await ourDomains()).toEqual([]);
  });
});
