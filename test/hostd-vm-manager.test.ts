// VmManager against the real libvirtd: a cold boot to a ready agent with its
// identity, adoption by a second manager (as after a hostd restart) that leaves
// other hosts' domains alone and removes orphan directories, idempotent
// destroy, and a guest whose agent never answers (the probe image as kernel)
// failing with ERR_GUEST_TIMEOUT and leaving nothing behind.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainCreateFlags, type Connection } from '../native/libvirt/index.js';
import { buildGuestImage, type GuestImage } from '../images/guest/build.js';
import { buildProbeImage, type ProbeImage } from '../images/guest/probe.js';
import { dataPaths, loadConfig } from '../services/contracts/config.js';
import { ForkdError } from '../services/contracts/errors.js';
import { createLogger } from '../services/contracts/logger.js';
import { detectAccel, type AccelVerdict } from '../services/hostd/accel.js';
import { openLibvirt } from '../services/hostd/libvirt.js';
import { AGENT_BUNDLE, startHostd } from '../services/hostd/main.js';
import { buildDomainXml } from '../services/hostd/vm/domain-xml.js';
import { hostnameFor, VmManager, type VmManagerOptions } from '../services/hostd/vm/vm-manager.js';
import { sharedCacheDataDir } from './harness.js';

const log = createLogger('warn', { svc: 'test-vmm' });
const hostId = `test-vmm-${process.pid}`;
const made: string[] = [];
let conn: Connection;
let dataDir: string;
let vmsDir: string;
let image: GuestImage;
let probe: ProbeImage;
let accel: AccelVerdict;
const managers: VmManager[] = [];

function manager(extra: Partial<VmManagerOptions> = {}): VmManager {
  const m = new VmManager({
    conn,
    hostId,
    vmsDir,
    accel: accel.accel,
    log,
    guest: { kernel: image.kernel, initramfs: image.initramfs, cmdline: image.cmdline, rootDisk: image.rootDisk },
    ...extra,
  });
  managers.push(m);
  return m;
}

function vmId(): string {
  const id = `t${randomBytes(5).toString('hex')}`;
  made.push(`forkd-vm-${id}`);
  return id;
}

beforeAll(async () => {
  dataDir = sharedCacheDataDir('vmm');
  vmsDir = dataPaths(dataDir).vms;
  conn = await openLibvirt('qemu:///system');
  const config = loadConfig({ FORKD_DATA_DIR: dataDir, FORKD_HOST_ID: hostId });
  const v = await conn.getVersion();
  accel = await detectAccel({ conn, config, log, qemuVersion: v.string });
  image = await buildGuestImage({ dataDir, agentBundle: AGENT_BUNDLE });
  probe = await buildProbeImage(dataDir);
});

afterAll(async () => {
  for (const m of managers) m.close();
  for (const name of made) {
    const d = await conn.lookupDomainByName(name).catch(() => null);
    if (d) {
      await d.destroy().catch(() => undefined);
      await d.free();
    }
  }
  await conn?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('VmManager', () => {
  let first: VmManager;
  let id: string;

  it('cold-boots a VM whose agent answers with the VM\'s own hostname', async () => {
    first = manager();
    await first.init();
    id = vmId();
    const vm = await first.createColdVm({ vmId: id, vcpus: 1, memoryMib: 256 });
    expect(vm.state).toBe('running');
    expect(vm.domainName).toBe(`forkd-vm-${id}`);
    for (const k of ['overlayMs', 'vmStartMs', 'agentReadyMs', 'identityMs', 'bootMs']) expect(vm.record.timings[k]).toBeGreaterThanOrEqual(0);
    const info = await vm.agent.call('info', {});
    expect(info.hostname).toBe(hostnameFor(id));
    expect(existsSync(join(vmsDir, id, 'disk.qcow2'))).toBe(true);
    expect(existsSync(join(vmsDir, id, 'vm.json'))).toBe(true);
    expect(await first.list()).toEqual([{ vmId: id, domainName: `forkd-vm-${id}`, running: true, state: 'running' }]);
    const xml = await (await conn.lookupDomainByName(`forkd-vm-${id}`))!.getXMLDesc();
    expect(xml).toContain(`type='${accel.accel === 'kvm' ? 'kvm' : 'qemu'}'`);
    expect(xml).toMatch(new RegExp(`host=['"]${hostId}['"]`));
    console.log(`cold boot (${accel.accel}): ${JSON.stringify(vm.record.timings)}`);
  });

  it('a second manager adopts the running VM, leaves other hosts\' domains alone and removes orphan directories', async () => {
    first.close(); // what hostd's stop does: the VM keeps running
    expect((await (await conn.lookupDomainByName(`forkd-vm-${id}`))!.getState()).state).toBe('running');
    // Another host's domain with our prefix (paused: it never runs) and a directory with no domain.
    const foreign = `forkd-vm-foreign${randomBytes(3).toString('hex')}`;
    made.push(foreign);
    const fdir = join(dataDir, 'foreign');
    mkdirSync(fdir, { recursive: true });
    const d = await conn.createDomainXML(buildDomainXml({
      name: foreign, uuid: randomUUID(), type: 'qemu', vcpus: 1, memoryMib: 64,
      kernel: probe.kernel, initramfs: probe.initramfs, cmdline: probe.cmdline, disks: [],
      agentSocket: join(fdir, 'a.sock'), consoleLog: join(fdir, 'c.log'),
      metadata: { vm: 'foreign', host: 'some-other-host', kind: 'vm', created: new Date().toISOString() },
      memory: { mode: 'anonymous' },
    }), DomainCreateFlags.START_PAUSED);
    mkdirSync(join(vmsDir, 'orphan1'));

    const second = manager();
    await second.init();
    const report = await second.adopt();
    expect(report.adopted).toEqual([id]);
    expect(report.destroyed).toEqual([]);
    expect(report.removedDirs).toEqual(['orphan1']);
    expect(existsSync(join(vmsDir, 'orphan1'))).toBe(false);
    expect((await d.getState()).state).toBe('paused');
    await d.destroy();
    await d.free();

    const vm = second.get(id);
    expect((await vm.agent.call('ping', {})).now).toBeGreaterThan(0);
  });

  it('forgets a VM whose domain stops behind its back (as when QEMU dies), and says so', async () => {
    const m = managers.at(-1)!;
    const gone: string[] = [];
    const unwatch = await m.watch((v) => gone.push(v));
    try {
      const d = (await conn.lookupDomainByName(`forkd-vm-${id}`))!;
      await d.destroy();
      await d.free();
      const deadline = Date.now() + 20_000;
      while (gone.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(gone).toEqual([id]);
      expect(() => m.get(id)).toThrow(/no VM/);
      expect(await m.list()).toEqual([]);
      expect(existsSync(join(vmsDir, id))).toBe(false);
      expect(await m.destroy(id)).toBe(false);
    } finally {
      await unwatch();
    }
  });

  it('a guest whose agent never answers fails with ERR_GUEST_TIMEOUT and leaves no domain and no directory', async () => {
    // The probe prints its marker and powers off: the boot fails when the domain goes, long before the deadline.
    const m = manager({ bootOverride: { kernel: probe.kernel, initramfs: probe.initramfs, cmdline: probe.cmdline }, agentReadyTimeoutMs: 150_000 });
    await m.init();
    const pid = vmId();
    const t0 = Date.now();
    const err = await m.createColdVm({ vmId: pid, vcpus: 1, memoryMib: 128 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForkdError);
    expect((err as ForkdError).code).toBe('ERR_GUEST_TIMEOUT');
    expect((err as ForkdError).message).toMatch(/agentReady.*stopped/);
    expect(Date.now() - t0).toBeLessThan(120_000);
    expect(await conn.lookupDomainByName(`forkd-vm-${pid}`)).toBeNull();
    expect(existsSync(join(vmsDir, pid))).toBe(false);
    expect(await m.list()).toEqual([]);
  });

  it('destroy() while the VM is still booting stops the boot and leaves nothing', async () => {
    const m = manager();
    await m.init();
    const cid = vmId();
    const creating = m.createColdVm({ vmId: cid, vcpus: 1, memoryMib: 128 }).catch((e: unknown) => e);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(await conn.lookupDomainByName(`forkd-vm-${cid}`).catch(() => null))) await new Promise((r) => setTimeout(r, 100));
    expect(m.find(cid)?.state).toBe('creating');
    expect(await m.destroy(cid)).toBe(true);
    const err = await creating;
    expect((err as ForkdError).code).toBe('ERR_CONFLICT');
    expect((err as ForkdError).message).toMatch(/destroyed while being created/);
    expect(await conn.lookupDomainByName(`forkd-vm-${cid}`)).toBeNull();
    expect(existsSync(join(vmsDir, cid))).toBe(false);
    expect(m.find(cid)).toBeUndefined();
  });

  it('a guest that never answers nor stops fails at the deadline with ERR_GUEST_TIMEOUT', async () => {
    // The real guest with a deadline far shorter than its boot: still running, agent silent.
    const m = manager({ agentReadyTimeoutMs: 2_000 });
    await m.init();
    const sid = vmId();
    const err = await m.createColdVm({ vmId: sid, vcpus: 1, memoryMib: 256 }).catch((e: unknown) => e);
    expect((err as ForkdError).code).toBe('ERR_GUEST_TIMEOUT');
    expect((err as ForkdError).message).toMatch(/agentReady.*not ready after 2000 ms/);
    expect(await conn.lookupDomainByName(`forkd-vm-${sid}`)).toBeNull();
    expect(existsSync(join(vmsDir, sid))).toBe(false);
  });

  it('a domain libvirt refuses to start is ERR_LIBVIRT naming the step, and leaves no directory', async () => {
    const m = manager({ bootOverride: { kernel: '/nonexistent/vmlinuz', initramfs: probe.initramfs, cmdline: probe.cmdline } });
    await m.init();
    const lid = vmId();
    const err = await m.createColdVm({ vmId: lid, vcpus: 1, memoryMib: 128 }).catch((e: unknown) => e);
    expect((err as ForkdError).code).toBe('ERR_LIBVIRT');
    expect((err as ForkdError).message).toMatch(/step "vmStart"/);
    expect((err as ForkdError).detail).toMatchObject({ step: 'vmStart', vmId: lid });
    expect(await conn.lookupDomainByName(`forkd-vm-${lid}`)).toBeNull();
    expect(existsSync(join(vmsDir, lid))).toBe(false);
  });

  it('hostd refuses to start without the agent bundle, saying to run npm run build', async () => {
    const config = loadConfig({ FORKD_DATA_DIR: dataDir, FORKD_HOST_ID: hostId, FORKD_ACCEL: accel.accel });
    const err = await startHostd(config, 'redis://127.0.0.1:9', log, { agentBundle: join(dataDir, 'no-agent.mjs') }).catch((e: unknown) => e);
    expect((err as ForkdError).code).toBe('ERR_CONFIG');
    expect((err as ForkdError).message).toMatch(/no-agent\.mjs is missing: run `npm run build`/);
  });

  it('refuses ids that cannot name a domain or a directory', async () => {
    const m = manager();
    await expect(m.createColdVm({ vmId: '../etc', vcpus: 1, memoryMib: 128 })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(m.destroy('a/b')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });
});
