// network.remove, and joining a freshly made VM to the network its job names.
import type { JobOutput, NetworkAttachment } from '../../contracts/jobs.js';
import type { TenantNetworks } from '../network/tenant-networks.js';
import type { ForkJoin, VmNetworks } from '../network/vm-networks.js';
import type { ManagedVm, VmManager } from '../vm/vm-manager.js';

export function networkRemoveHandler(nets: TenantNetworks) {
  return async (input: { networkId: string }): Promise<JobOutput<'network.remove'>> => ({ removed: await nets.remove(input.networkId) });
}

/** Puts the VM on its network (when the job names one), records the step's timings and saves the record. */
export async function joinNetwork(deps: { vms: VmManager; networks?: VmNetworks }, vm: ManagedVm, network: NetworkAttachment | undefined, opts: { fork?: ForkJoin } = {}): Promise<Record<string, number>> {
  if (!network || !deps.networks) return {};
  const timings = await deps.networks.join(vm, network, opts);
  Object.assign(vm.record.timings, timings);
  await deps.vms.saveRecord(vm);
  return timings;
}
