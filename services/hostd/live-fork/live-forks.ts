// container.fork and container.snapshot: a running container's VM captured
// into a fork point (fork/live-fork.ts), which is a template directory under
// `<dataDir>/templates/`, and children forked from it by the registry like
// from any template.
//
// Fork points of container.fork are named `fp-<hex>` and live while anything
// needs them: a VM forked from one (its vm.json names it), or another template
// whose disk is backed by its disk (forkd.json's origin: a fork of a child, a
// snapshot of a child). sweepForkPoints removes the rest; it runs after every
// fork, after vm.destroy and when hostd starts. A snapshot is the same capture
// kept under the API's template id, with the API's row counting its users.
//
// All or nothing: a child that fails destroys every child of the request (VM,
// tap, ports) and the fork point goes with the sweep; the parent runs on.
// A hostd killed mid-fork: the next one resumes the parent (before adoption),
// destroys the freezer (a template-build leftover), empties the stream
// directory and sweeps the fork point at start; the job, handed over as
// stalled, is not redone (the moment it was to copy is gone): it destroys the
// children the dead hostd left (adopted from their vm.json) and fails,
// ERR_INTERRUPTED, so the API removes their rows.
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MetadataType, type Connection, type Domain } from '../../../native/libvirt/index.js';
import { ForkdError } from '../../contracts/errors.js';
import type { EventPublisher } from '../../contracts/events/index.js';
import type { ContainerForkInput, ContainerForkOutput, ContainerRef, TemplateFacts } from '../../contracts/jobs.js';
import { errorFields, type Logger } from '../../contracts/logger.js';
import type { ExitWatcher } from '../events/exit-watcher.js';
import { MAX_FORK_LAYERS } from '../fork/disk-chain.js';
import { captureForkPoint, type ForkPoint } from '../fork/live-fork.js';
import { domainQmp, type Qmp } from '../fork/qmp.js';
import type { JobContext, JobHandlers } from '../job-handlers.js';
import type { TapPort } from '../network/taps.js';
import type { VmNetworks } from '../network/vm-networks.js';
import type { PortPublisher } from '../ports/port-publisher.js';
import type { TemplateRegistry } from '../templates/template-registry.js';
import { listTemplateIds, readTemplateRecord, templateDir, writeTemplateRecord } from '../templates/template-store.js';
import { joinNetwork } from '../handlers/network.js';
import { vmFacts } from '../handlers/templates.js';
import { FORKD_XMLNS } from '../vm/domain-xml.js';
import type { ManagedVm, VmManager } from '../vm/vm-manager.js';
import { assertVmId, parseDomainMetadata } from '../vm/vm-record.js';
import { aliasContainer } from './guest-alias.js';
import { decideReuse, measureDirtyRate, withinWindow, type ReusePolicy } from './reuse.js';

export const FORK_POINT_PREFIX = 'fp-';
/** One request makes at most this many children (the API checks the same bound). */
export const MAX_FORK_CHILDREN = 64;

/** Fork points of requests still running: the sweep leaves them alone until their children are registered. */
const inFlight = new Set<string>();

export interface LiveForkDeps {
  conn: Connection;
  hostId: string;
  vms: VmManager;
  templates: TemplateRegistry;
  ports: PortPublisher;
  events: EventPublisher;
  exits: ExitWatcher;
  log: Logger;
  networks?: VmNetworks;
  taps?: TapPort;
  /** Where RAM streams are written during a parent's pause (`<dataDir>/fork-streams`, hostd's alone). */
  streamsDir: string;
  /** When a fork may reuse the parent's last fork point (reuse.ts); absent: never. */
  reuse?: ReusePolicy;
}

/** The template (or fork point) a VM was forked from, from its domain's metadata; cold-booted VMs have none. */
async function templateOf(vm: ManagedVm): Promise<string> {
  const xml = vm.domain ? await vm.domain.getMetadata(MetadataType.ELEMENT, FORKD_XMLNS).catch(() => null) : null;
  const m = xml === null ? null : /\stemplate=(?:'([^']*)'|"([^"]*)")/.exec(xml);
  const id = m?.[1] ?? m?.[2];
  if (!id) {
    throw new ForkdError('ERR_CONFLICT', `container's VM ${vm.vmId} was cold-booted: only a VM forked from a template can be forked live (its RAM is not a template's file)`, { field: 'container', detail: { vmId: vm.vmId } });
  }
  return id;
}

/** The running parent and its container, checked. */
function parentOf(deps: LiveForkDeps, ref: ContainerRef): ManagedVm {
  assertVmId(ref.vmId);
  const vm = deps.vms.find(ref.vmId);
  if (!vm || vm.state !== 'running') throw new ForkdError('ERR_CONFLICT', `container ${ref.containerId} is not running (its VM is ${vm?.state ?? 'gone'})`, { field: 'container', detail: { ...ref } });
  if (vm.record.containerId !== ref.containerId) throw new ForkdError('ERR_NOT_FOUND', `no container ${ref.containerId} in VM ${ref.vmId}`, { detail: { ...ref } });
  if ((vm.record.volumes ?? []).length > 0) {
    // A volume's disk has one writer, and a hot-plugged device is not in the template's device set.
    throw new ForkdError('ERR_CONFLICT', 'a container with volumes cannot be forked', { field: 'container', detail: { ...ref } });
  }
  return vm;
}

/**
 * The running VM captured as template `templateId` (a fork point, or a snapshot or pod template under the API's
 * name), its disk chain bounded, and its record naming what it came from (`ref`: a pod has no one container, so
 * its VM id stands in) and the template its disk is backed by, which keeps that template from the sweep.
 */
export async function captureRunning(deps: LiveForkDeps, parent: ManagedVm, ref: ContainerRef, templateId: string, log: Logger): Promise<ForkPoint> {
  const parentTemplate = await templateOf(parent);
  const t = await deps.templates.open(parentTemplate);
  const dir = templateDir(deps.templates.dirs, templateId);
  const fp = await captureForkPoint({
    conn: deps.conn,
    parent: { domain: parent.domain as Domain, disk: parent.paths.disk, manifest: t.manifest },
    dir,
    id: templateId,
    hostId: deps.hostId,
    streamPath: join(deps.streamsDir, `${templateId}.stream`),
    flatten: { prefix: FORK_POINT_PREFIX, maxLayers: MAX_FORK_LAYERS },
    ...(deps.taps ? { taps: deps.taps } : {}),
  });
  await writeTemplateRecord(dir, {
    templateId,
    imageId: null,
    containers: [],
    poolSize: 0,
    buildMs: fp.timings.totalMs,
    origin: { containerId: ref.containerId, vmId: ref.vmId, parentTemplate, takenAt: fp.manifest.createdAt, ...(fp.diskBase === null ? {} : { diskBase: basename(dirname(fp.diskBase)) }) },
  });
  log.info('fork point captured', { template: templateId, parentTemplate, streamBytes: fp.streamBytes, timings: fp.timings });
  return fp;
}

async function makeChild(deps: LiveForkDeps, input: ContainerForkInput, guestId: string, fpId: string, i: number, made: ManagedVm[]) {
  const c = input.children[i]!;
  const vm = await deps.templates.fork({ vmId: c.vmId, templateId: fpId, usePool: false });
  made.push(vm);
  vm.agent = aliasContainer(vm.agent, c.containerId, guestId);
  Object.assign(vm.record, {
    tenantId: input.tenantId,
    containerId: c.containerId,
    guestContainerId: guestId,
    forkPoint: fpId,
    ...(c.name ? { containerName: c.name } : {}),
  });
  await deps.vms.saveRecord(vm);
  await joinNetwork(deps, vm, c.network);
  const ports = input.ports.length === 0 ? [] : await deps.ports.publish(vm.vmId, () => vm.agent, input.ports.map((p) => ({ containerPort: p.containerPort, hostPort: 0, ...(p.hostIp ? { hostIp: p.hostIp } : {}) })));
  vm.record.ports = ports;
  await deps.vms.saveRecord(vm);
  deps.exits.watch(vm, { tenantId: input.tenantId, containerId: c.containerId, ...(c.name ? { name: c.name } : {}) });
  await deps.events.publish({ type: 'vm', action: 'create', tenantId: input.tenantId, actor: { id: vm.vmId, attributes: { hostId: deps.hostId, boot: 'fork', container: c.containerId } } });
  return { vmId: vm.vmId, containerId: c.containerId, vm: vmFacts(vm), ports };
}

/** container.fork: N children of a running container (or of a snapshot template), or nothing. */
export function containerForkHandler(deps: LiveForkDeps) {
  return async (input: ContainerForkInput, ctx: JobContext): Promise<ContainerForkOutput> => {
    const n = input.children.length;
    if (n < 1 || n > MAX_FORK_CHILDREN) throw new ForkdError('ERR_VALIDATION', `count must be 1..${MAX_FORK_CHILDREN}`, { field: 'count' });
    if ((input.parent === undefined) === (input.template === undefined)) throw new ForkdError('ERR_VALIDATION', 'container.fork needs a parent or a template', { field: 'parent' });
    for (const c of input.children) assertVmId(c.vmId);
    if (ctx.interrupted) await abandonInterrupted(deps, input, ctx.log);
    const parent = input.parent ? parentOf(deps, input.parent) : null;
    // A parent captured moments ago whose guest was quiet since: its children come from that capture.
    const reuse = parent && !input.fresh ? await reusable(deps, parent, ctx.log) : null;
    const fpId = input.template?.templateId ?? (reuse && 'id' in reuse ? reuse.id : undefined) ?? `${FORK_POINT_PREFIX}${randomBytes(8).toString('hex')}`;
    const guestId = input.template?.guestContainerId ?? parent!.record.guestContainerId ?? input.parent!.containerId;
    const log = ctx.log.child({ ...(input.parent ? { parent: input.parent.vmId } : {}), forkPoint: fpId });
    inFlight.add(fpId);
    const made: ManagedVm[] = [];
    try {
      let forkPoint: ContainerForkOutput['forkPoint'] = { templateId: fpId, timings: {}, streamBytes: 0 };
      if (reuse && 'id' in reuse) {
        forkPoint = { templateId: fpId, timings: { reuseCheckMs: reuse.checkMs }, streamBytes: 0, reused: true, takenAt: reuse.takenAt };
        log.info('reusing the parent\'s last fork point', { ageMs: reuse.ageMs, estimateMib: reuse.estimateMib });
      } else if (parent) {
        await ctx.progress(5, 'fork-point');
        const fp = await captureRunning(deps, parent, input.parent!, fpId, log);
        forkPoint = { templateId: fpId, timings: { ...fp.timings }, streamBytes: fp.streamBytes, takenAt: fp.manifest.createdAt, ...(reuse ? { reuseSkipped: reuse.why } : {}) };
      }
      const children: ContainerForkOutput['children'] = [];
      // One at a time: each child is a libvirt start and an agent round trip; on 2 cores parallel starts only queue.
      for (let i = 0; i < n; i++) {
        if (ctx.signal.aborted) throw new ForkdError('ERR_CONFLICT', 'hostd is stopping', { detail: { forkPoint: fpId } });
        await ctx.progress(10 + Math.floor((80 * i) / n), `child ${i + 1}/${n}`);
        children.push(await makeChild(deps, input, guestId, fpId, i, made));
      }
      // Only a fork that succeeded leaves its capture for the next one: a failed fork leaves nothing.
      if (parent && !forkPoint.reused) await rememberCapture(deps, parent, fpId, forkPoint.takenAt!, log).catch((e: unknown) => log.warn('keeping the fork point for reuse failed: the next fork captures', errorFields(e)));
      return { forkPoint, children };
    } catch (err) {
      for (const vm of made) {
        await deps.ports.unpublish(vm.vmId).catch(() => undefined); // destroying the VM below is what matters
        await deps.vms.destroy(vm.vmId).catch((e: unknown) => log.warn('destroying a child after a failed fork failed', { vm: vm.vmId, ...errorFields(e) }));
      }
      throw err;
    } finally {
      inFlight.delete(fpId);
      await sweepForkPoints(deps).catch((e: unknown) => log.warn('sweeping fork points failed', errorFields(e)));
    }
  };
}

type Reusable = { id: string; takenAt: string; ageMs: number; estimateMib: number; checkMs: number } | { why: string };

/**
 * The parent's last fork point when this fork may reuse it (reuse.ts), or why
 * not. A reused one is put in flight at once, so no sweep takes it meanwhile.
 */
async function reusable(deps: LiveForkDeps, parent: ManagedVm, log: Logger): Promise<Reusable> {
  const policy = deps.reuse ?? { windowMs: 0, maxDirtyMib: 0 };
  const last = parent.record.lastForkPoint;
  const t0 = Date.now();
  const window = withinWindow(last, t0, policy);
  if (!window.ok) return { why: window.why };
  inFlight.add(last!.id);
  let kept = false;
  try {
    const there = await access(join(templateDir(deps.templates.dirs, last!.id), 'manifest.json')).then(() => true, () => false);
    if (!there) return { why: `fork point ${last!.id} is gone` };
    const rate = await measureDirtyRate(domainQmp(parent.domain as Domain));
    const d = decideReuse(window.ageMs, rate, Date.now() - t0, policy);
    if (!d.reuse) {
      log.info('not reusing the parent\'s last fork point', { forkPoint: last!.id, why: d.why });
      return { why: d.why };
    }
    kept = true;
    return { id: last!.id, takenAt: last!.takenAt, ageMs: d.ageMs, estimateMib: d.estimateMib, checkMs: Date.now() - t0 };
  } finally {
    if (!kept) inFlight.delete(last!.id);
  }
}

/**
 * Keeps the capture as the parent's last fork point (the one before is freed
 * by the sweep once no child uses it), and sweeps again once it is too old to
 * be reused, so an idle parent does not keep it.
 */
async function rememberCapture(deps: LiveForkDeps, parent: ManagedVm, id: string, takenAt: string, log: Logger): Promise<void> {
  const windowMs = deps.reuse?.windowMs ?? 0;
  if (windowMs <= 0) return;
  parent.record.lastForkPoint = { id, takenAt };
  await deps.vms.saveRecord(parent);
  setTimeout(() => void sweepForkPoints(deps).catch((e: unknown) => log.warn('sweeping fork points failed', errorFields(e))), windowMs + 1000).unref();
}

/**
 * A fork an earlier hostd died in: destroys what it made of the children
 * (adoption kept those whose vm.json was written, with their ports), sweeps
 * the fork points, and fails. Not redone: the parent has run on since.
 */
async function abandonInterrupted(deps: LiveForkDeps, input: ContainerForkInput, log: Logger): Promise<never> {
  const left = input.children.map((c) => c.vmId).filter((id) => deps.vms.find(id) !== undefined);
  for (const vmId of left) {
    await deps.ports.unpublish(vmId).catch(() => undefined); // destroying the VM is what matters
    await deps.vms.destroy(vmId);
  }
  await sweepForkPoints(deps);
  log.warn('a fork an earlier hostd died in: its children destroyed, not redone', { destroyed: left });
  throw new ForkdError('ERR_INTERRUPTED', `hostd stopped during this fork and was restarted; nothing of the fork was kept${left.length > 0 ? ` (${left.length} half-made ${left.length === 1 ? 'child' : 'children'} destroyed)` : ''} and the ${input.parent ? 'parent runs on' : 'snapshot is unchanged'}: fork again`, { detail: { destroyed: left } });
}

/** At hostd start no fork is running: any RAM stream left is an earlier hostd's. Makes the directory if needed; returns the files removed. */
export async function clearForkStreams(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const left = (await readdir(dir)).filter((f) => f.endsWith('.stream'));
  for (const f of left) await rm(join(dir, f), { force: true });
  return left;
}

/** container.snapshot: the running container's state kept as template `templateId`. */
export function containerSnapshotHandler(deps: LiveForkDeps) {
  return async (input: { parent: ContainerRef; templateId: string }, ctx: JobContext): Promise<{ template: TemplateFacts; pauseMs: number; guestContainerId: string }> => {
    if (ctx.interrupted) {
      // Not redone either (the moment is gone); its directory is no fork point, so the sweep would keep it.
      await deps.templates.delete(input.templateId);
      throw new ForkdError('ERR_INTERRUPTED', `hostd stopped during this snapshot and was restarted; nothing of it was kept and the container runs on: snapshot again`, { detail: { template: input.templateId } });
    }
    const parent = parentOf(deps, input.parent);
    const fp = await captureRunning(deps, parent, input.parent, input.templateId, ctx.log.child({ parent: input.parent.vmId }));
    const m = fp.manifest;
    const template: TemplateFacts = {
      templateId: input.templateId,
      accel: m.accel,
      qemuVersion: m.qemuVersion,
      machineType: m.machine,
      formatVersion: m.formatVersion,
      files: { memory: { bytes: m.files.memory.size }, state: { bytes: m.files.state.size }, disk: { bytes: m.files.disk.size } },
      buildMs: fp.timings.totalMs,
      pool: { target: 0, ready: 0, starting: 0 },
    };
    return { template, pauseMs: fp.timings.pauseMs, guestContainerId: parent.record.guestContainerId ?? input.parent.containerId };
  };
}

/**
 * Removes the fork points nothing needs: no VM of this host forked from it,
 * no template whose disk it backs. Repeats until nothing more goes (removing
 * a fork point can free the one its disk was backed by).
 */
export async function sweepForkPoints(deps: Pick<LiveForkDeps, 'vms' | 'templates' | 'log' | 'reuse'>): Promise<string[]> {
  const removed: string[] = [];
  for (;;) {
    const ids = await listTemplateIds(deps.templates.dirs);
    const used = new Set<string>();
    const now = Date.now();
    for (const vm of deps.vms.all()) {
      if (vm.record.forkPoint) used.add(vm.record.forkPoint);
      // A parent's last capture, while a fork may still reuse it.
      if (deps.reuse && withinWindow(vm.record.lastForkPoint, now, deps.reuse).ok) used.add(vm.record.lastForkPoint!.id);
    }
    for (const id of ids) {
      const origin = (await readTemplateRecord(templateDir(deps.templates.dirs, id)))?.origin;
      // Its disk's backing: the parent's fork point, or the template a flattened disk was rebased onto.
      if (origin) used.add(origin.diskBase ?? origin.parentTemplate);
    }
    const unused = ids.filter((id) => id.startsWith(FORK_POINT_PREFIX) && !used.has(id) && !inFlight.has(id));
    if (unused.length === 0) return removed;
    for (const id of unused) {
      await deps.templates.delete(id);
      removed.push(id);
    }
    deps.log.info('fork points no longer used: removed', { removed: unused });
  }
}

/** The live-fork jobs, and vm.destroy followed by a sweep of the fork points it freed. */
export function liveForkHandlers(deps: LiveForkDeps, vmDestroy: JobHandlers['vm.destroy']): Pick<JobHandlers, 'container.fork' | 'container.snapshot' | 'vm.destroy'> {
  return {
    'container.fork': containerForkHandler(deps),
    'container.snapshot': containerSnapshotHandler(deps),
    'vm.destroy': async (input, ctx) => {
      const out = await vmDestroy(input, ctx);
      await sweepForkPoints(deps).catch((e: unknown) => ctx.log.warn('sweeping fork points failed', errorFields(e)));
      return out;
    },
  };
}

/** After adoption: children of live forks get their container-id translation back. */
export function realiasAdopted(vms: VmManager): void {
  for (const vm of vms.all()) {
    const { containerId, guestContainerId } = vm.record;
    if (containerId && guestContainerId) vm.agent = aliasContainer(vm.agent, containerId, guestContainerId);
  }
}

/**
 * A stream the dead hostd started may still run (QEMU does not stop with
 * hostd): resumed mid-migration, QEMU would pause the parent again when the
 * migration completes. Cancels it and waits until it is no longer active
 * (bounded: a cancel takes effect at QEMU's next write).
 */
async function cancelMigration(qmp: Qmp): Promise<void> {
  const status = async () => ((await qmp('query-migrate')) as { status?: string }).status;
  if (!['setup', 'active', 'device', 'cancelling', 'pre-switchover'].includes((await status()) ?? 'none')) return;
  await qmp('migrate_cancel');
  for (let i = 0; i < 200 && ['setup', 'active', 'device', 'cancelling', 'pre-switchover'].includes((await status()) ?? 'none'); i++) await new Promise((r) => setTimeout(r, 25));
}

/**
 * Before adoption: a hostd killed during a parent's pause left it suspended,
 * and adoption destroys VMs that are not running. Resumes this host's paused
 * VMs (a migration that never finished leaves QEMU able to continue).
 */
export async function resumeInterruptedParents(conn: Connection, hostId: string, log: Logger): Promise<string[]> {
  const resumed: string[] = [];
  for (const d of await conn.listAllDomains(0)) {
    try {
      if (!d.name.startsWith('forkd-vm-') && !d.name.startsWith('forkd-pool-')) continue;
      const md = parseDomainMetadata(await d.getMetadata(MetadataType.ELEMENT, FORKD_XMLNS).catch(() => null));
      if (md?.host !== hostId || md.kind !== 'vm') continue;
      if ((await d.getState()).state !== 'paused') continue;
      await cancelMigration(domainQmp(d));
      await d.resume();
      resumed.push(d.name);
    } catch (err) {
      log.warn('could not resume a VM paused by an interrupted live fork', { domain: d.name, ...errorFields(err) });
    } finally {
      await d.free().catch(() => undefined);
    }
  }
  if (resumed.length > 0) log.warn('resumed VMs a hostd stopped during a live fork had left paused', { resumed });
  return resumed;
}


/** Keeps fork point `id` from the sweep until the returned function is called (a pod fork still making its children). */
export function holdForkPoint(id: string): () => void {
  inFlight.add(id);
  return () => inFlight.delete(id);
}
