// The VMs of this host: cold boot, lookup, destroy, and adoption after a
// restart. Every VM is a *transient* libvirt domain `forkd-vm-<vmId>` carrying
// forkd's metadata, with its files in `<dataDir>/run/vms/<vmId>/` (qcow2
// overlay on the guest image's root disk, agent socket, console log, vm.json).
//
//   creating ─▶ running ─▶ stopping ─▶ gone        (creating ─▶ gone on failure)
//
// A failure at any step of a cold boot destroys the domain and removes the
// directory, and the error names the step. hostd's shutdown only closes agent
// connections (close()): VMs outlive hostd, and the next one adopts them.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, LibvirtError, MetadataType, type Connection, type Domain } from '../../../native/libvirt/index.js';
import { CleanupStack } from '../../contracts/cleanup-stack.js';
import type { Accel } from '../../contracts/config.js';
import { ForkdError } from '../../contracts/errors.js';
import type { BootMode } from '../../contracts/jobs.js';
import { hostVmLifecycle, type HostVmState } from '../../contracts/lifecycle/index.js';
import { errorFields, type Logger } from '../../contracts/logger.js';
import { AgentClient } from '../agent/agent-client.js';
import { createOverlay } from '../fork/disk-overlay.js';
import { newMac, newMachineId } from '../fork/identity.js';
import { fromLibvirtError, libvirtCall } from '../libvirt.js';
import { makePassableForQemu } from '../qemu-access.js';
import { tapName } from '../network/names.js';
import { Taps, tapsInDomainXml, type TapPort } from '../network/taps.js';
import { identityParams } from './guest-identity.js';
import { buildDomainXml, domainTypeFor, FORKD_XMLNS, type NetworkSpec } from './domain-xml.js';
import { assertVmId, domainNameOf, parseDomainMetadata, POOL_DOMAIN_PREFIX, readVmRecord, VM_DOMAIN_PREFIX, vmPaths, writeVmRecord, type VmPaths, type VmRecord } from './vm-record.js';

/** hostd's record of a VM; the table of legal moves lives with the database's in contracts. */
export type VmState = HostVmState;

/** What a cold VM boots: the guest image's kernel, initramfs, cmdline and root disk (the overlay's backing file). */
export interface GuestBoot {
  kernel: string;
  initramfs: string;
  cmdline: string;
  rootDisk: string;
}

export interface VmManagerOptions {
  conn: Connection;
  /**
   * Where destroys go (by domain name), when given: a connection of their own,
   * so a destroy waiting for QEMU to exit does not hold up `conn`'s calls
   * (native/libvirt runs one call at a time per connection).
   */
  teardownConn?: Connection;
  hostId: string;
  /** `<dataDir>/run/vms`. */
  vmsDir: string;
  /** hostd's accelerator verdict; the default for every VM. */
  accel: Accel;
  log: Logger;
  guest: GuestBoot;
  /** Host side of every VM's NIC (hostd: FORKD_NETWORK), the same as its templates'. Absent or null: no NIC. */
  network?: NetworkSpec | null;
  /** Makes a cold VM's tap (default: the host's). */
  taps?: TapPort;
  /**
   * Called once a VM's domain is gone (destroy, lost, not adoptable) with its
   * record: hostd removes its tap and tells its network peers. Never throws.
   */
  releaseNic?: (record: VmRecord) => Promise<void>;
  /** Replaces kernel, initramfs and cmdline (tests boot a guest whose agent never answers). */
  bootOverride?: Omit<GuestBoot, 'rootDisk'>;
  /** Deadline for the agent's first answer; default 30 s under KVM, 120 s under TCG. */
  agentReadyTimeoutMs?: number;
  /** Deadline for an adopted VM's agent to answer again. Default 20 s. */
  adoptTimeoutMs?: number;
}

export interface CreateVmRequest {
  vmId: string;
  vcpus: number;
  memoryMib: number;
  /** Defaults to hostd's verdict. */
  accel?: Accel;
  /** Recorded only; the fork path registers its VMs itself. */
  boot?: BootMode;
}

export class ManagedVm {
  state: VmState = 'creating';
  /** Aborted when destroy() is asked for while the VM is still being created. */
  readonly cancel = new AbortController();
  /** Settles when creation finished either way (destroy() of a creating VM waits for it). */
  created: Promise<unknown> = Promise.resolve();

  constructor(
    readonly vmId: string,
    readonly domainName: string,
    readonly paths: VmPaths,
    public record: VmRecord,
    public agent: AgentClient,
    public domain: Domain | null,
  ) {}

  to(next: VmState): void {
    this.state = hostVmLifecycle.transition(this.state, next, this.vmId);
  }
}

/** Written into a VM's directory when its destroy starts: a VM with it is destroyed, never adopted, by the next hostd. */
export const TEARDOWN_MARKER = 'teardown';

export interface AdoptReport {
  adopted: string[];
  destroyed: string[];
  removedDirs: string[];
}

export class VmManager {
  private readonly vms = new Map<string, ManagedVm>();
  /** The last record write of each VM (saveRecord chains on it). */
  private readonly saving = new WeakMap<ManagedVm, Promise<void>>();

  constructor(private readonly opts: VmManagerOptions) {}

  get vmsDir(): string {
    return this.opts.vmsDir;
  }

  get accel(): Accel {
    return this.opts.accel;
  }

  /** The VM if it is running here; ERR_NOT_FOUND otherwise. */
  get(vmId: string): ManagedVm {
    const vm = this.vms.get(vmId);
    if (!vm || vm.state !== 'running') throw new ForkdError('ERR_NOT_FOUND', `no VM ${vmId} on host ${this.opts.hostId}`, { detail: { vmId } });
    return vm;
  }

  find(vmId: string): ManagedVm | undefined {
    return this.vms.get(vmId);
  }

  /** Every VM this hostd manages, in any state (metrics count them). */
  all(): ManagedVm[] {
    return [...this.vms.values()];
  }

  /** Creates the VM directory and makes it (and the folders above it that forkd owns) passable for QEMU's user. */
  async init(): Promise<void> {
    await mkdir(this.opts.vmsDir, { recursive: true, mode: 0o755 });
    await makePassableForQemu([this.opts.vmsDir, dirname(this.opts.vmsDir), dirname(dirname(this.opts.vmsDir))], this.opts.log);
  }

  async createColdVm(req: CreateVmRequest): Promise<ManagedVm> {
    assertVmId(req.vmId);
    if (this.vms.has(req.vmId)) throw new ForkdError('ERR_CONFLICT', `VM ${req.vmId} already exists on this host`, { detail: { vmId: req.vmId } });
    const accel = req.accel ?? this.opts.accel;
    const paths = vmPaths(this.opts.vmsDir, req.vmId);
    const domainName = domainNameOf(req.vmId);
    const log = this.opts.log.child({ vm: req.vmId });
    const boot = { ...this.opts.guest, ...this.opts.bootOverride };
    const agentTimeoutMs = this.opts.agentReadyTimeoutMs ?? (accel === 'kvm' ? 30_000 : 120_000);
    const hostname = hostnameFor(req.vmId);
    const network = this.opts.network ?? null;
    const mac = network === null ? null : newMac();
    const tap = network === null ? null : tapName(req.vmId);
    const record: VmRecord = {
      vmId: req.vmId,
      hostId: this.opts.hostId,
      accel,
      boot: req.boot ?? 'cold',
      createdAt: new Date().toISOString(),
      vcpus: req.vcpus,
      memoryMib: req.memoryMib,
      hostname,
      ports: [],
      timings: {},
      ...(tap === null ? {} : { tap }),
    };
    const agent = new AgentClient(paths.agentSocket, { log: (msg, fields) => log.debug(msg, fields) });
    const vm = new ManagedVm(req.vmId, domainName, paths, record, agent, null);
    this.vms.set(req.vmId, vm);

    const cleanup = new CleanupStack();
    cleanup.push('forget the VM', () => { vm.state = 'gone'; this.vms.delete(req.vmId); });
    const t0 = Date.now();
    let step = 'directory';
    const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      if (vm.cancel.signal.aborted) throw new ForkdError('ERR_CONFLICT', `VM ${req.vmId} was destroyed while being created`, { detail: { vmId: req.vmId } });
      step = name;
      const t = Date.now();
      const r = await fn();
      record.timings[`${name}Ms`] = Date.now() - t;
      return r;
    };
    let settle!: () => void;
    vm.created = new Promise<void>((r) => (settle = r));
    try {
      await timed('directory', async () => {
        await mkdir(paths.dir, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'EEXIST') throw new ForkdError('ERR_CONFLICT', `VM directory ${paths.dir} already exists`, { detail: { vmId: req.vmId } });
          throw err;
        });
        cleanup.push('remove the VM directory', () => rm(paths.dir, { recursive: true, force: true }));
      });
      await timed('overlay', async () => createOverlay(await realpath(boot.rootDisk), paths.disk));
      if (tap !== null) {
        const taps = this.opts.taps ?? Taps.host;
        await timed('tap', () => taps.create(tap));
        cleanup.push('remove the tap', () => taps.remove(tap));
      }
      const xml = buildDomainXml({
        name: domainName,
        uuid: randomUUID(),
        type: domainTypeFor(accel),
        vcpus: req.vcpus,
        memoryMib: req.memoryMib,
        kernel: boot.kernel,
        initramfs: boot.initramfs,
        cmdline: boot.cmdline,
        disks: [{ path: paths.disk, format: 'qcow2' }],
        ...(mac === null || tap === null ? {} : { nic: { mac, network: network!, tap } }),
        agentSocket: paths.agentSocket,
        consoleLog: paths.consoleLog,
        metadata: { vm: req.vmId, host: this.opts.hostId, kind: 'vm', created: record.createdAt, extra: { boot: record.boot } },
        memory: { mode: 'anonymous' },
      });
      vm.domain = await timed('vmStart', async () => {
        try {
          return await this.opts.conn.createDomainXML(xml, 0);
        } catch (err) {
          throw fromLibvirtError(err, `starting domain ${domainName}`);
        }
      });
      cleanup.push('destroy the domain', () => destroyDomain(vm.domain));
      cleanup.push('close the agent connection', () => agent.close());
      await timed('agentReady', () => waitForAgent(vm, agentTimeoutMs));
      const applied = await timed('identity', () =>
        agent.call('identity.set', identityParams({ hostname, machineId: newMachineId(), mac, nic: mac === null ? null : network! })),
      );
      if (applied.warnings.length > 0) log.debug('identity.set warnings', { warnings: applied.warnings });
      record.timings['bootMs'] = Date.now() - t0;
      await timed('record', () => writeVmRecord(paths.record, record));
      if (vm.cancel.signal.aborted) throw new ForkdError('ERR_CONFLICT', `VM ${req.vmId} was destroyed while being created`, { detail: { vmId: req.vmId } });
      cleanup.release();
      vm.to('running');
      log.info('VM ready', { accel, timings: record.timings });
      return vm;
    } catch (err) {
      const consoleTail = (await readFile(paths.consoleLog, 'utf8').catch(() => '')).slice(-600);
      const failed = await cleanup.run();
      for (const f of failed) log.warn(`cleanup after a failed boot: ${f.what} failed`, errorFields(f.error));
      const why = vm.cancel.signal.aborted ? new ForkdError('ERR_CONFLICT', 'the VM was destroyed while being created', { detail: { vmId: req.vmId } }) : err;
      throw stepError(why, step, req.vmId, consoleTail);
    } finally {
      settle();
    }
  }

  /** Destroys the VM's domain and removes its directory. Idempotent: false when there was nothing. */
  async destroy(vmId: string): Promise<boolean> {
    assertVmId(vmId);
    const vm = this.vms.get(vmId);
    if (vm?.state === 'creating') {
      // The boot stops at its next step (closing the agent ends a wait for it) and cleans up after itself.
      vm.cancel.abort();
      vm.agent.close();
      await vm.created;
      this.opts.log.info('VM destroyed while being created', { vm: vmId });
      return true;
    }
    if (vm?.state === 'stopping') return true;
    let found = false;
    if (vm) {
      found = true;
      vm.to('stopping');
      vm.agent.close();
    }
    try {
      // Not registered (or registered with no handle): look it up, but only destroy it if it is ours.
      const domain = vm?.domain ?? (await this.lookupOwnDomain(domainNameOf(vmId)));
      const paths = vmPaths(this.opts.vmsDir, vmId);
      const record = vm?.record ?? (await readVmRecord(paths.record));
      const xmlTaps = domain && !record?.tap ? tapsInDomainXml(await domain.getXMLDesc().catch(() => '')) : [];
      // The journal on this side: a hostd killed from here on finds the marker at start-up and finishes the job (adoptOne).
      if (existsSync(paths.dir)) await writeFile(join(paths.dir, TEARDOWN_MARKER), `${new Date().toISOString()}\n`).catch(() => undefined);
      if (domain) {
        found = true;
        await this.destroyOffLane(domain);
      }
      for (const t of xmlTaps) await this.removeTap(t);
      if (existsSync(paths.dir)) {
        found = true;
        await rm(paths.dir, { recursive: true, force: true });
      }
      if (record) await this.releaseNic(record);
    } finally {
      if (vm) {
        vm.state = 'gone';
        this.vms.delete(vmId);
      }
    }
    if (found) this.opts.log.info('VM destroyed', { vm: vmId });
    return found;
  }

  /** destroyDomain on the teardown connection's handle of the same domain when there is one (see teardownConn). */
  private async destroyOffLane(domain: Domain): Promise<void> {
    const tc = this.opts.teardownConn;
    const other = tc ? await tc.lookupDomainByName(domain.name).catch(() => null) : null;
    if (!other) return destroyDomain(domain);
    try {
      await destroyDomain(other);
    } finally {
      await domain.free().catch(() => undefined);
    }
  }

  /** VMs this hostd knows, with whether libvirt still runs them. */
  async list(): Promise<Array<{ vmId: string; domainName: string; running: boolean; state: VmState }>> {
    const out: Array<{ vmId: string; domainName: string; running: boolean; state: VmState }> = [];
    for (const vm of this.vms.values()) {
      const s = vm.domain ? await vm.domain.getState().catch(() => null) : null;
      out.push({ vmId: vm.vmId, domainName: vm.domainName, running: s?.state === 'running', state: vm.state });
    }
    return out;
  }

  /** Registers a VM made elsewhere (the fork path) so the rest of hostd finds it. */
  register(vm: ManagedVm): void {
    if (this.vms.has(vm.vmId)) throw new ForkdError('ERR_CONFLICT', `VM ${vm.vmId} already exists on this host`);
    if (vm.state === 'creating') vm.to('running');
    this.vms.set(vm.vmId, vm);
  }

  /**
   * After a restart: reconnects to this host's running VMs, destroys this
   * host's VMs that cannot be used (not running, files gone, agent silent),
   * and removes VM directories with no domain. Other hosts' domains are never touched.
   */
  async adopt(): Promise<AdoptReport> {
    const log = this.opts.log;
    const report: AdoptReport = { adopted: [], destroyed: [], removedDirs: [] };
    const domains = await libvirtCall('listing domains for adoption', () => this.opts.conn.listAllDomains(0));
    const work: Promise<void>[] = [];
    for (const d of domains) {
      // A VM forked from a warm-pool shell keeps the shell's name (`forkd-pool-…`); its metadata says kind 'vm'.
      if (!d.name.startsWith(VM_DOMAIN_PREFIX) && !d.name.startsWith(POOL_DOMAIN_PREFIX)) {
        await d.free().catch(() => undefined);
        continue;
      }
      const md = parseDomainMetadata(await d.getMetadata(MetadataType.ELEMENT, FORKD_XMLNS).catch(() => null));
      if (!md || md.host !== this.opts.hostId || md.kind !== 'vm' || this.vms.has(md.vm)) {
        await d.free().catch(() => undefined);
        continue;
      }
      work.push(this.adoptOne(d, md.vm, report));
    }
    await Promise.all(work);
    const entries = await readdir(this.opts.vmsDir).catch(() => [] as string[]);
    for (const name of entries) {
      if (this.vms.has(name)) continue;
      await rm(vmPaths(this.opts.vmsDir, name).dir, { recursive: true, force: true });
      report.removedDirs.push(name);
    }
    log.info('adoption done', { adopted: report.adopted, destroyed: report.destroyed, removedDirs: report.removedDirs });
    return report;
  }

  private async adoptOne(domain: Domain, vmId: string, report: AdoptReport): Promise<void> {
    const log = this.opts.log.child({ vm: vmId });
    const paths = vmPaths(this.opts.vmsDir, vmId);
    const state = await domain.getState().catch(() => null);
    const record = await readVmRecord(paths.record);
    let why = '';
    if (existsSync(join(paths.dir, TEARDOWN_MARKER))) why = 'its teardown was under way when hostd stopped';
    else if (state?.state !== 'running') why = `domain is ${state?.state ?? 'unreadable'}`;
    else if (!record) why = 'vm.json is missing or unreadable';
    else if (!existsSync(paths.agentSocket)) why = 'agent socket is missing';
    if (!why) {
      const agent = new AgentClient(paths.agentSocket, { log: (msg, fields) => log.debug(msg, fields) });
      try {
        await agent.waitReady({ timeoutMs: this.opts.adoptTimeoutMs ?? 20_000 });
        const vm = new ManagedVm(vmId, domain.name, paths, record!, agent, domain);
        vm.to('running');
        this.vms.set(vmId, vm);
        report.adopted.push(vmId);
        log.info('adopted a running VM', { container: record!.containerId, ports: record!.ports.length });
        return;
      } catch (err) {
        agent.close();
        why = `agent did not answer: ${(err as Error).message}`;
      }
    }
    log.warn('destroying a VM that cannot be adopted', { reason: why });
    // Without vm.json (a half-made VM) the domain's XML still names its tap.
    const xmlTaps = record?.tap ? [] : tapsInDomainXml(await domain.getXMLDesc().catch(() => ''));
    await destroyDomain(domain);
    await rm(paths.dir, { recursive: true, force: true });
    if (record) await this.releaseNic(record);
    for (const t of xmlTaps) await this.removeTap(t);
    report.destroyed.push(vmId);
  }

  /**
   * Follows libvirt's lifecycle events: a running VM whose domain stops or
   * crashes on its own (guest panic, QEMU killed) is forgotten and its files
   * removed, and `onGone` is told (hostd closes its published ports). Its
   * jobs then answer ERR_NOT_FOUND and vm.list no longer shows it.
   */
  async watch(onGone: (vmId: string) => void = () => undefined): Promise<() => Promise<void>> {
    return libvirtCall('subscribing to domain lifecycle events', () =>
      this.opts.conn.onLifecycle((ev) => {
        if (ev.event !== 'stopped' && ev.event !== 'crashed') return;
        const vm = [...this.vms.values()].find((v) => v.domainName === ev.domainName && v.state === 'running');
        if (!vm) return;
        void this.lost(vm, `${ev.event} (${ev.detail})`).then(
          () => onGone(vm.vmId),
          (err) => this.opts.log.warn('cleaning up after a VM that stopped failed', { vm: vm.vmId, ...errorFields(err) }),
        );
      }),
    );
  }

  private async lost(vm: ManagedVm, why: string): Promise<void> {
    const consoleTail = (await readFile(vm.paths.consoleLog, 'utf8').catch(() => '')).slice(-1000);
    this.opts.log.warn('a VM stopped on its own; forgetting it', { vm: vm.vmId, why, consoleTail });
    vm.to('stopping');
    vm.agent.close();
    try {
      await destroyDomain(vm.domain);
      await rm(vm.paths.dir, { recursive: true, force: true });
      await this.releaseNic(vm.record);
    } finally {
      vm.state = 'gone';
      this.vms.delete(vm.vmId);
    }
  }

  private async removeTap(tap: string): Promise<void> {
    await (this.opts.taps ?? Taps.host).remove(tap).catch((err: unknown) => this.opts.log.warn('removing a tap failed', { tap, ...errorFields(err) }));
  }

  private async releaseNic(record: VmRecord): Promise<void> {
    const release = this.opts.releaseNic ?? (async (r: VmRecord) => { if (r.tap) await (this.opts.taps ?? Taps.host).remove(r.tap); });
    await release(record).catch((err: unknown) => this.opts.log.warn('releasing a VM\'s NIC failed', { vm: record.vmId, ...errorFields(err) }));
  }

  /** Taps of the VMs this hostd runs (a restart's sweep keeps these). */
  liveTaps(): Set<string> {
    return new Set([...this.vms.values()].map((v) => v.record.tap).filter((t): t is string => t !== undefined));
  }

  /** Running VMs (for the network's peer lists). */
  running(): ManagedVm[] {
    return [...this.vms.values()].filter((v) => v.state === 'running');
  }

  /**
   * Persists a VM's record (container id, published ports) for a later
   * adoption. One write at a time per VM, each of the record as it is when its
   * turn comes, so the file ends as the latest record whatever order
   * concurrent jobs (a pod's containers) saved in.
   */
  saveRecord(vm: ManagedVm): Promise<void> {
    const next = (this.saving.get(vm) ?? Promise.resolve()).catch(() => undefined).then(() => writeVmRecord(vm.paths.record, vm.record));
    this.saving.set(vm, next);
    return next;
  }

  /** hostd stops: close agent connections, leave the VMs running for the next hostd. */
  close(): void {
    for (const vm of this.vms.values()) {
      vm.agent.close();
      void vm.domain?.free().catch(() => undefined);
    }
    this.vms.clear();
  }

  private async lookupOwnDomain(name: string): Promise<Domain | null> {
    const d = await libvirtCall(`looking up ${name}`, () => this.opts.conn.lookupDomainByName(name));
    if (!d) return null;
    const md = parseDomainMetadata(await d.getMetadata(MetadataType.ELEMENT, FORKD_XMLNS).catch(() => null));
    if (md?.host === this.opts.hostId) return d;
    await d.free().catch(() => undefined);
    return null;
  }
}

/** `vm-<short id>`: a valid hostname whatever the id's alphabet. */
export function hostnameFor(vmId: string): string {
  return `vm-${vmId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 12) || '0'}`;
}

/**
 * Waits for the guest's agent, watching the domain meanwhile: a guest that
 * stops (kernel panic, power-off) fails in about a second instead of at the
 * deadline. Either way the agent did not answer: ERR_GUEST_TIMEOUT.
 */
async function waitForAgent(vm: ManagedVm, timeoutMs: number): Promise<void> {
  let stopped: string | null = null;
  let done = false;
  const stop = new AbortController();
  const watch = (async () => {
    while (!done) {
      await sleep(1000, undefined, { signal: stop.signal }).catch(() => undefined);
      if (done || !vm.domain) return;
      const state = await vm.domain.getState().then(
        (s) => (s.state === 'shutoff' || s.state === 'crashed' ? s.state : null),
        (e: unknown) => (e instanceof LibvirtError && e.code === ErrorCode.VIR_ERR_NO_DOMAIN ? 'gone' : null),
      );
      if (state && !done) {
        stopped = state;
        vm.agent.close();
        return;
      }
    }
  })();
  try {
    await vm.agent.waitReady({ timeoutMs });
  } catch (err) {
    if (stopped) throw new ForkdError('ERR_GUEST_TIMEOUT', `the guest stopped (domain ${stopped}) before its agent answered`, { cause: err, detail: { domainState: stopped } });
    throw err;
  } finally {
    done = true;
    stop.abort();
    await watch;
  }
}

/** Destroys a domain that may already be gone (the guest powered off) and frees the handle. */
async function destroyDomain(domain: Domain | null): Promise<void> {
  if (!domain) return;
  try {
    const s = await domain.getState().catch(() => null);
    if (s && s.state !== 'shutoff') await domain.destroy();
  } catch (err) {
    // Gone between getState and destroy is fine; anything else is worth knowing.
    const still = await domain.getState().catch(() => null);
    if (still && still.state !== 'shutoff') throw fromLibvirtError(err, `destroying ${domain.name}`);
  } finally {
    await domain.free().catch(() => undefined);
  }
}

function stepError(err: unknown, step: string, vmId: string, consoleTail: string): ForkdError {
  const base = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', (err as Error)?.message ?? String(err), { cause: err });
  const detail = { ...base.detail, vmId, step, ...(consoleTail ? { consoleTail } : {}) };
  return new ForkdError(base.code, `cold boot of VM ${vmId} failed at step "${step}": ${base.message}`, { detail, cause: err, ...(base.field ? { field: base.field } : {}) });
}
