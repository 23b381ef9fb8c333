// pod.fork and pod.snapshot (docs/pods.md "Forking a pod"): a pod is one VM
// holding several containers, so forking a pod is forking its VM, with the
// live-fork machinery (fork/live-fork.ts captures the running VM into a fork
// point, the registry forks children from it like from any template). What
// differs from container.fork: the child's guest runs *every* container of
// the parent under the parent's ids, while the API gives each a new id. The
// agent client translates each pair (live-fork/guest-alias.ts, once per
// container), and the VM's record keeps the map (`podGuestIds`) so a
// restarted hostd translates again (realiasPods).
//
// All or nothing, as container.fork: a child that fails destroys every child
// of the request; the fork point goes with the next sweep; the parent runs on.
import { randomBytes } from 'node:crypto';
import { ForkdError } from '../../contracts/errors.js';
import type { ContainerStatus, TemplateFacts } from '../../contracts/jobs.js';
import { errorFields } from '../../contracts/logger.js';
import type { PodForkInput, PodForkOutput, PodSnapshotOutput } from '../../contracts/pod-jobs.js';
import { findContainer, toStatus } from '../handlers/guest.js';
import { joinNetwork } from '../handlers/network.js';
import { vmFacts } from '../handlers/templates.js';
import type { JobContext, JobHandlers } from '../job-handlers.js';
import { aliasContainer } from '../live-fork/guest-alias.js';
import { captureRunning, FORK_POINT_PREFIX, holdForkPoint, MAX_FORK_CHILDREN, sweepForkPoints, type LiveForkDeps } from '../live-fork/live-forks.js';
import type { ManagedVm, VmManager } from '../vm/vm-manager.js';
import { assertVmId } from '../vm/vm-record.js';

/** The pod's running VM: a pod's VM has no container of its own in its record (its containers are the API's rows). */
function podVm(deps: LiveForkDeps, vmId: string): ManagedVm {
  assertVmId(vmId);
  const vm = deps.vms.find(vmId);
  if (!vm || vm.state !== 'running') throw new ForkdError('ERR_CONFLICT', `the pod's VM ${vmId} is not running (${vm?.state ?? 'gone'})`, { field: 'pod', detail: { vmId } });
  if (vm.record.containerId) throw new ForkdError('ERR_CONFLICT', `VM ${vmId} is a container's, not a pod's: fork the container`, { field: 'pod', detail: { vmId } });
  if ((vm.record.volumes ?? []).length > 0) throw new ForkdError('ERR_CONFLICT', 'a VM with volumes cannot be forked', { field: 'pod', detail: { vmId } });
  return vm;
}

/** The agent client of a VM whose guest knows each container `apiId` as `guestIds[apiId]`. */
export function aliasPod(vm: ManagedVm, guestIds: Record<string, string>): void {
  for (const [apiId, guestId] of Object.entries(guestIds)) vm.agent = aliasContainer(vm.agent, apiId, guestId);
}

/** After adoption: forked pods' VMs get their translations back. */
export function realiasPods(vms: VmManager): void {
  for (const vm of vms.all()) if (vm.record.podGuestIds) aliasPod(vm, vm.record.podGuestIds);
}

async function makeChild(deps: LiveForkDeps, input: PodForkInput, i: number, fpId: string, guestOf: (from: string) => string, made: ManagedVm[]) {
  const c = input.children[i]!;
  const vm = await deps.templates.fork({ vmId: c.vmId, templateId: fpId, usePool: false });
  made.push(vm);
  const guestIds = Object.fromEntries(c.containers.map((k) => [k.containerId, guestOf(k.from)]));
  aliasPod(vm, guestIds);
  Object.assign(vm.record, { tenantId: input.tenantId, forkPoint: fpId, podGuestIds: guestIds });
  await deps.vms.saveRecord(vm);
  await joinNetwork(deps, vm, c.network);
  const containers: Array<{ containerId: string; status: ContainerStatus }> = [];
  for (const k of c.containers) {
    const found = await findContainer(vm.agent, k.containerId);
    if (!found) throw new ForkdError('ERR_GUEST', `the forked pod's guest has no container ${guestIds[k.containerId]} (for ${k.containerId})`, { detail: { vmId: vm.vmId } });
    const status = toStatus(found);
    if (status.state === 'running') deps.exits.watch(vm, { tenantId: input.tenantId, containerId: k.containerId, name: k.name });
    containers.push({ containerId: k.containerId, status });
  }
  await deps.events.publish({ type: 'vm', action: 'create', tenantId: input.tenantId, actor: { id: vm.vmId, attributes: { hostId: deps.hostId, boot: 'fork', pod: 'true' } } });
  return { vmId: vm.vmId, vm: vmFacts(vm), containers };
}

/** pod.fork: N new pods from a running pod (or a pod template), or nothing. */
export function podForkHandler(deps: LiveForkDeps) {
  return async (input: PodForkInput, ctx: JobContext): Promise<PodForkOutput> => {
    const n = input.children.length;
    if (n < 1 || n > MAX_FORK_CHILDREN) throw new ForkdError('ERR_VALIDATION', `count must be 1..${MAX_FORK_CHILDREN}`, { field: 'count' });
    if ((input.parent === undefined) === (input.template === undefined)) throw new ForkdError('ERR_VALIDATION', 'pod.fork needs a parent or a template', { field: 'parent' });
    for (const c of input.children) assertVmId(c.vmId);
    if (ctx.interrupted) {
      // Not redone (the moment it was to copy is gone): what the dead hostd made of it goes.
      for (const c of input.children) if (deps.vms.find(c.vmId)) await deps.vms.destroy(c.vmId);
      throw new ForkdError('ERR_INTERRUPTED', 'hostd stopped during this pod fork and was restarted; nothing of it was kept: fork again');
    }
    const parent = input.parent ? podVm(deps, input.parent.vmId) : null;
    const parentIds = parent?.record.podGuestIds ?? {};
    const guestOf = (from: string) => (parent ? parentIds[from] ?? from : from);
    const fpId = input.template?.templateId ?? `${FORK_POINT_PREFIX}${randomBytes(8).toString('hex')}`;
    const log = ctx.log.child({ ...(parent ? { parent: parent.vmId } : {}), forkPoint: fpId });
    const release = holdForkPoint(fpId);
    const made: ManagedVm[] = [];
    try {
      let forkPoint: PodForkOutput['forkPoint'] = { templateId: fpId, timings: {}, streamBytes: 0 };
      if (parent) {
        await ctx.progress(5, 'fork-point');
        const fp = await captureRunning(deps, parent, { containerId: parent.vmId, vmId: parent.vmId }, fpId, log);
        forkPoint = { templateId: fpId, timings: { ...fp.timings }, streamBytes: fp.streamBytes };
      }
      const children: PodForkOutput['children'] = [];
      for (let i = 0; i < n; i++) {
        if (ctx.signal.aborted) throw new ForkdError('ERR_CONFLICT', 'hostd is stopping', { detail: { forkPoint: fpId } });
        await ctx.progress(10 + Math.floor((80 * i) / n), `pod ${i + 1}/${n}`);
        children.push(await makeChild(deps, input, i, fpId, guestOf, made));
      }
      return { forkPoint, children };
    } catch (err) {
      for (const vm of made) {
        await deps.vms.destroy(vm.vmId).catch((e: unknown) => log.warn('destroying a pod child after a failed fork failed', { vm: vm.vmId, ...errorFields(e) }));
      }
      throw err;
    } finally {
      release();
      await sweepForkPoints(deps).catch((e: unknown) => log.warn('sweeping fork points failed', errorFields(e)));
    }
  };
}

/** pod.snapshot: the running pod's VM kept as template `templateId`, and the guest's ids of its containers. */
export function podSnapshotHandler(deps: LiveForkDeps) {
  return async (input: { parent: { vmId: string }; templateId: string }, ctx: JobContext): Promise<PodSnapshotOutput> => {
    if (ctx.interrupted) {
      await deps.templates.delete(input.templateId);
      throw new ForkdError('ERR_INTERRUPTED', 'hostd stopped during this pod snapshot and was restarted; nothing of it was kept: snapshot again', { detail: { template: input.templateId } });
    }
    const parent = podVm(deps, input.parent.vmId);
    const fp = await captureRunning(deps, parent, { containerId: parent.vmId, vmId: parent.vmId }, input.templateId, ctx.log.child({ parent: parent.vmId }));
    const m = fp.manifest;
    const template: TemplateFacts = {
      templateId: input.templateId, accel: m.accel, qemuVersion: m.qemuVersion, machineType: m.machine, formatVersion: m.formatVersion,
      files: { memory: { bytes: m.files.memory.size }, state: { bytes: m.files.state.size }, disk: { bytes: m.files.disk.size } },
      buildMs: fp.timings.totalMs, pool: { target: 0, ready: 0, starting: 0 },
    };
    return { template, pauseMs: fp.timings.pauseMs, guestIds: { ...(parent.record.podGuestIds ?? {}) } };
  };
}

export function podForkHandlers(deps: LiveForkDeps): Pick<JobHandlers, 'pod.fork' | 'pod.snapshot'> {
  return { 'pod.fork': podForkHandler(deps), 'pod.snapshot': podSnapshotHandler(deps) };
}
