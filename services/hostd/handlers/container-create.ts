// container.create: a VM (cold boot, or a fork when hostd has a fork path), the
// image imported into the guest, the container created and started (unless
// `start: false`: then container.start starts it later), its ports
// published. Nothing is left when it fails. A retried job with the same vmId
// picks up where the VM is: a running container is simply reported.
import type { ContainerSummary, Params } from '../../contracts/agent-protocol/index.js';
import { ForkdError } from '../../contracts/errors.js';
import type { NewEvent } from '../../contracts/events/index.js';
import type { ContainerCreateInput, JobOutput, VmFacts } from '../../contracts/jobs.js';
import { errorFields } from '../../contracts/logger.js';
import { openEnv } from '../../contracts/secrets/index.js';
import type { JobContext } from '../job-handlers.js';
import type { HostMetrics } from '../metrics/host-metrics.js';
import type { ForkJoin, VmNetworks } from '../network/vm-networks.js';
import { joinNetwork } from './network.js';
import { hostnameFor, type CreateVmRequest, type ManagedVm } from '../vm/vm-manager.js';
import { assertVmId } from '../vm/vm-record.js';
import { attachVolumes, type GuestVolume } from '../volumes/attach.js';
import type { VolumeStore } from '../volumes/volume-store.js';
import { findContainer, guest, hostImage, toStatus, type ContainerDeps } from './guest.js';

/**
 * Makes a VM by forking a template (boot other than 'cold'), registered with
 * the VmManager and its agent ready; absent until hostd has templates wired.
 */
/**
 * `served` settles when this create is done (container started, or failed): a
 * warm pool refills after it. `join`: the part of the network join the fork
 * does itself (the guest's address in its identity.set, the tap attach).
 */
export type ForkVm = (input: ContainerCreateInput, ctx: JobContext, served: Promise<void>, join?: ForkJoin) => Promise<ManagedVm>;

export interface CreateDeps extends ContainerDeps {
  fork?: ForkVm;
  /** The image a template's guest holds already (TemplateRegistry.imageOf): its forks need no import of it. */
  templateImage?: (templateId: string) => string | null;
  /** Tenant networks on this host; absent: VMs stay detached (FORKD_NETWORK=none). */
  networks?: VmNetworks;
  /** This host's volume disks; absent: a create with volumes fails. */
  volumes?: VolumeStore;
  /** Create latencies and their steps go here. */
  metrics?: Pick<HostMetrics, 'observeCreate'>;
}

type Output = JobOutput<'container.create'>;

export function containerCreateHandler(deps: CreateDeps) {
  return async (input: ContainerCreateInput, ctx: JobContext): Promise<Output> => {
    assertVmId(input.vmId);
    const t0 = Date.now();
    const existing = deps.vms.find(input.vmId);
    if (existing && existing.state !== 'running') {
      throw new ForkdError('ERR_CONFLICT', `VM ${input.vmId} is ${existing.state}`, { detail: { vmId: input.vmId } });
    }
    // One container per VM: a retry names the same container; anything else is a caller's bug, and the VM is left alone.
    if (existing?.record.containerId !== undefined && existing.record.containerId !== input.containerId) {
      throw new ForkdError('ERR_CONFLICT', `VM ${input.vmId} already runs container ${existing.record.containerId}`, { detail: { vmId: input.vmId } });
    }
    let vm: ManagedVm | undefined = existing;
    let importing: Promise<number> | null = null;
    // A warm pool's refill waits for this (warm-pool.ts): its next clone's start would share the cores with this container's.
    let markServed!: () => void;
    const served = new Promise<void>((resolve) => (markServed = resolve));
    deps.creates?.begin(input.vmId);
    try {
      // A fork joins most of the way itself: its identity.set carries the guest's address, and it attaches the tap.
      const forkJoin = !vm && input.boot !== 'cold' && deps.fork && deps.networks && input.network ? deps.networks.forkJoin(input.network, hostnameFor(input.vmId)) : undefined;
      if (!vm) {
        await ctx.progress(5, 'vm');
        vm = await makeVm(deps, input, ctx, served, forkJoin);
        vm.record.tenantId = input.tenantId;
        if (input.name) vm.record.containerName = input.name;
        await deps.events.publish({ type: 'vm', action: 'create', tenantId: input.tenantId, actor: { id: input.vmId, attributes: { hostId: vm.record.hostId, boot: vm.record.boot, container: input.containerId } } });
      } else {
        ctx.log.info('container.create for an existing VM: resuming', { vm: input.vmId });
      }
      const agent = vm.agent;
      // A new VM has no container yet, and its image does not depend on its network: both go in at once.
      if (!existing) {
        importing = importImage(deps, agent, input, ctx);
        importing.catch(() => undefined); // awaited below, or before the VM is destroyed
      }
      // Before the container exists: it starts with its address, route and peers' names in place.
      await ctx.progress(30, 'network');
      const joined = await joinNetwork(deps, vm, input.network, forkJoin ? { fork: forkJoin } : {});
      const timings: Record<string, number> = { ...vm.record.timings, ...joined };
      // Hot-plugged after the VM is up, whether cold-booted or forked: templates and pool shells stay volume-free.
      const tv = Date.now();
      const volumes = await plugVolumes(deps, vm, input);
      if (volumes.length > 0) {
        timings['volumeAttachMs'] = Date.now() - tv;
        await deps.vms.saveRecord(vm);
      }
      // Only a VM that was already there (a retry) can hold this container: a new one is not asked (a guest round trip).
      let c = existing ? await findContainer(agent, input.containerId) : null;
      let created = false;
      let startedWithCreate = false;
      if (!c) {
        await ctx.progress(40, 'image');
        const ti = Date.now();
        const importMs = await (importing ??= importImage(deps, agent, input, ctx));
        // What the create waited for the image after the network join (the rest of the import overlapped it).
        timings['imageImportMs'] = Date.now() - ti;
        // 1: the template's guest held the image already, so nothing was asked of the guest.
        if (importMs < 0) timings['imagePreloaded'] = 1;
        await ctx.progress(70, 'container');
        const tc = Date.now();
        // Created and started in one guest round trip (an older agent only creates: the start below follows).
        const made = await agent.call('container.create', {
          ...createParams(input, vm.record.hostname, deps.secretKey),
          ...(volumes.length > 0 ? { volumes } : {}),
          ...(input.start !== false ? { start: true } : {}),
        });
        timings['containerCreateMs'] = Date.now() - tc - (made.started?.ms ?? 0);
        // 1: the create took the container the ready pool held ahead (docs/fork.md), so the start hands over.
        if (made.held === true) timings['containerHeld'] = 1;
        created = true;
        await deps.events.publish(containerEvent(input, 'create', vm.vmId));
        if (made.started) {
          timings['containerStartMs'] = made.started.ms;
          c = made.started.container ?? await findContainer(agent, input.containerId);
          startedWithCreate = true;
          await deps.events.publish(containerEvent(input, 'start', vm.vmId));
        }
      }
      const startNow = !startedWithCreate && (created || c?.status === 'created') && input.start !== false;
      // Just created and not started (start: false): its record, as the agent has it, is the answer.
      if (created && input.start === false) c = await findContainer(agent, input.containerId);
      if (startNow) {
        const ts = Date.now();
        const started = await guest(`starting container ${input.containerId}`, () => agent.call('container.start', { id: input.containerId }));
        timings['containerStartMs'] = Date.now() - ts;
        // The start's own answer carries the summary: one guest round trip fewer (an older agent's does not).
        c = started.container ?? await findContainer(agent, input.containerId);
        await deps.events.publish(containerEvent(input, 'start', vm.vmId));
      }
      if (!c) throw new ForkdError('ERR_GUEST', `the agent lost container ${input.containerId} right after creating it`);
      // After `start` was published: a quick exit's `die` comes after it (the wait answers at once for an exited container).
      // A container made with start: false is watched from its container.start.
      if (c.status !== 'created') deps.exits.watch(vm, { tenantId: input.tenantId, containerId: input.containerId, ...(input.name ? { name: input.name } : {}), image: input.image.id });
      vm.record.containerId = input.containerId;
      const ports = await publishOnce(deps, vm, input);
      timings['totalMs'] = Date.now() - t0;
      // A retry reports its own timings but keeps the VM's original ones on record.
      if (!existing) {
        vm.record.timings = timings;
        deps.metrics?.observeCreate(vm.record.boot, timings);
      }
      await deps.vms.saveRecord(vm);
      await ctx.progress(100, 'running');
      return { vm: facts(vm, timings), status: toStatus(c as ContainerSummary), ports };
    } catch (err) {
      await importing?.catch(() => undefined);
      if (vm) {
        await deps.ports.unpublish(input.vmId).catch(() => undefined);
        await deps.vms.destroy(input.vmId).catch((e) => ctx.log.warn('destroying the VM after a failed create failed', errorFields(e)));
      }
      throw err;
    } finally {
      markServed();
      deps.creates?.end(input.vmId);
    }
  };
}

/** The image's layers into the guest (those it lacks); resolves to the ms the import took, -1 when the guest had the image by construction. */
async function importImage(deps: CreateDeps, agent: ManagedVm['agent'], input: ContainerCreateInput, ctx: JobContext): Promise<number> {
  // A fork of a template built for this image has it in its guest: the import would only find every layer present.
  if (input.boot !== 'cold' && deps.fork && input.templateId && deps.templateImage?.(input.templateId) === input.image.id) return -1;
  const t0 = Date.now();
  const imported = await agent.importImage(hostImage(input.image, deps.blobs, input.vmId));
  const ms = Date.now() - t0;
  ctx.log.info('image imported', { image: input.image.id, sent: imported.sent.length, present: imported.present.length, ms });
  return ms;
}

async function makeVm(deps: CreateDeps, input: ContainerCreateInput, ctx: JobContext, served: Promise<void>, join: ForkJoin | undefined): Promise<ManagedVm> {
  const req: CreateVmRequest = { vmId: input.vmId, vcpus: input.vm.vcpus, memoryMib: input.vm.memoryMib, boot: 'cold' };
  if (input.boot !== 'cold') {
    if (deps.fork) return deps.fork(input, ctx, served, join);
    ctx.log.warn(`boot "${input.boot}" requested but this hostd has no template/warm pool wired: cold-booting instead`, { vm: input.vmId });
  }
  return deps.vms.createColdVm(req);
}

async function plugVolumes(deps: CreateDeps, vm: ManagedVm, input: ContainerCreateInput): Promise<GuestVolume[]> {
  const wanted = input.volumes ?? [];
  if (wanted.length === 0) return [];
  if (!deps.volumes) throw new ForkdError('ERR_INTERNAL', 'this hostd has no volume store', { field: 'volumes' });
  return attachVolumes(vm, deps.volumes, wanted);
}

async function publishOnce(deps: ContainerDeps, vm: ManagedVm, input: ContainerCreateInput) {
  const already = deps.ports.published(vm.vmId);
  if (already.length > 0 || input.ports.length === 0) return already;
  const ports = await deps.ports.publish(vm.vmId, () => vm.agent, input.ports);
  vm.record.ports = ports;
  return ports;
}

/** One container per VM: the container answers to the VM's hostname (`vm-<short id>`). */
function createParams(input: ContainerCreateInput, hostname: string, secretKey: Buffer): Params<'container.create'> {
  const { spec } = input;
  const l = spec.limits;
  const limits = {
    ...(l.memoryMib === undefined ? {} : { memoryMib: l.memoryMib }),
    ...(l.cpus === undefined ? {} : { cpus: l.cpus }),
    ...(l.pids === undefined ? {} : { pids: l.pids }),
  };
  // The API resolved entrypoint + cmd into one argv: it replaces both of the image's.
  return {
    id: input.containerId,
    name: hostname,
    image: input.image.id,
    command: spec.command,
    args: [],
    // Opened here and nowhere else: the clear values live only in this call's params, never in a log or a record.
    env: openEnv(secretKey, input.containerId, spec.env),
    ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
    ...(spec.user ? { user: spec.user } : {}),
    limits,
    ...(spec.tty ? { tty: true } : {}),
    ...(spec.openStdin ? { openStdin: true } : {}),
    ...(spec.rows ? { rows: spec.rows } : {}),
    ...(spec.cols ? { cols: spec.cols } : {}),
  };
}

function containerEvent(input: ContainerCreateInput, action: 'create' | 'start', vmId: string): NewEvent {
  return {
    type: 'container', action, tenantId: input.tenantId,
    actor: { id: input.containerId, ...(input.name ? { name: input.name } : {}), attributes: { image: input.image.id, vmId } },
  };
}

function facts(vm: ManagedVm, timings: Record<string, number>): VmFacts {
  return { vmId: vm.vmId, domainName: vm.domainName, accel: vm.record.accel, boot: vm.record.boot, timings };
}
