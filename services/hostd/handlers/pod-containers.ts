// The containers of a pod (docs/pods.md): one more container in the pod's
// running VM, or one taken out, the VM and its other containers untouched.
// Unlike container.create, nothing here makes or destroys a VM: a create that
// fails deletes only its own container. The pod's address answers to every
// container's name: the VM's network record takes the pod's names and every
// member of the network is sent the new list (in the background, as for joins).
import type { ContainerSummary, Params } from '../../contracts/agent-protocol/index.js';
import { ForkdError } from '../../contracts/errors.js';
import type { JobOutput } from '../../contracts/jobs.js';
import { errorFields } from '../../contracts/logger.js';
import type { PodContainerCreateInput, PodContainerRemoveInput } from '../../contracts/pod-jobs.js';
import { openEnv } from '../../contracts/secrets/index.js';
import type { JobContext } from '../job-handlers.js';
import type { VmNetworks } from '../network/vm-networks.js';
import type { ManagedVm } from '../vm/vm-manager.js';
import { findContainer, guest, hostImage, toStatus, type ContainerDeps } from './guest.js';

export interface PodDeps extends ContainerDeps {
  networks?: VmNetworks;
}

export function podContainerCreateHandler(deps: PodDeps) {
  return async (input: PodContainerCreateInput, ctx: JobContext): Promise<JobOutput<'pod.container.create'>> => {
    const vm = deps.vms.get(input.vmId);
    if (vm.state !== 'running') throw new ForkdError('ERR_CONFLICT', `the pod's VM ${input.vmId} is ${vm.state}`, { field: 'pod' });
    const agent = vm.agent;
    let c = await findContainer(agent, input.containerId);
    try {
      if (!c) {
        await ctx.progress(20, 'image');
        await agent.importImage(hostImage(input.image, deps.blobs, input.vmId));
        await ctx.progress(60, 'container');
        await agent.call('container.create', createParams(input, deps.secretKey));
        c = await findContainer(agent, input.containerId);
        await deps.events.publish(event(input, 'create'));
      }
      // Before it starts: its siblings and peers can resolve it by the time it serves.
      await setPodNames(deps, vm, input.names);
      if (c?.status === 'created' && input.start !== false) {
        const started = await guest(`starting container ${input.containerId}`, () => agent.call('container.start', { id: input.containerId }));
        c = started.container ?? await findContainer(agent, input.containerId);
        await deps.events.publish(event(input, 'start'));
      }
      if (!c) throw new ForkdError('ERR_GUEST', `the agent lost container ${input.containerId} right after creating it`);
      if (c.status !== 'created') deps.exits.watch(vm, { tenantId: input.tenantId, containerId: input.containerId, name: input.name, image: input.image.id });
      await ctx.progress(100, 'running');
      return { status: toStatus(c as ContainerSummary) };
    } catch (err) {
      // Only this container goes: the pod's VM and its other containers stay as they were.
      await agent.call('container.delete', { id: input.containerId, force: true })
        .catch((e: unknown) => ctx.log.warn('deleting a pod container after a failed create failed', { vm: input.vmId, container: input.containerId, ...errorFields(e) }));
      throw err;
    }
  };
}

export function podContainerRemoveHandler(deps: PodDeps) {
  return async (input: PodContainerRemoveInput): Promise<JobOutput<'pod.container.remove'>> => {
    const vm = deps.vms.find(input.vmId);
    if (!vm || vm.state !== 'running') return { removed: false }; // the VM is gone: so is the container
    const { deleted } = await vm.agent.call('container.delete', { id: input.containerId, force: true });
    await setPodNames(deps, vm, input.names);
    return { removed: deleted };
  };
}

/** The names the pod's address answers to; every member of its network hears of them. */
async function setPodNames(deps: PodDeps, vm: ManagedVm, names: string[]): Promise<void> {
  const net = vm.record.network;
  if (!net || !deps.networks) return;
  if (net.aliases.length === names.length && net.aliases.every((n, i) => n === names[i])) return;
  net.aliases = [...names];
  await deps.vms.saveRecord(vm);
  deps.networks.peers.schedule(net.networkId);
}

/**
 * The name the agent takes, the container's hostname: an RFC 1123 label.
 * Compose names containers `project_service_1` and forked pods' are
 * `web.app2`; those characters become `-` (the API's name is unchanged).
 */
export function guestName(name: string): string {
  const label = name.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  return label === '' ? 'container' : label;
}

/** Each container of a pod answers to its own name as hostname; its limits are always set (the API fills defaults). */
function createParams(input: PodContainerCreateInput, secretKey: Buffer): Params<'container.create'> {
  const { spec } = input;
  const l = spec.limits;
  return {
    id: input.containerId,
    name: guestName(input.name),
    image: input.image.id,
    command: spec.command,
    args: [],
    env: openEnv(secretKey, input.containerId, spec.env),
    ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
    ...(spec.user ? { user: spec.user } : {}),
    limits: {
      ...(l.memoryMib === undefined ? {} : { memoryMib: l.memoryMib }),
      ...(l.cpus === undefined ? {} : { cpus: l.cpus }),
      ...(l.pids === undefined ? {} : { pids: l.pids }),
    },
    ...(spec.tty ? { tty: true } : {}),
    ...(spec.openStdin ? { openStdin: true } : {}),
    ...(spec.rows ? { rows: spec.rows } : {}),
    ...(spec.cols ? { cols: spec.cols } : {}),
  };
}

function event(input: PodContainerCreateInput, action: 'create' | 'start') {
  return { type: 'container' as const, action, tenantId: input.tenantId, actor: { id: input.containerId, name: input.name, attributes: { image: input.image.id, vmId: input.vmId, pod: 'true' } } };
}
