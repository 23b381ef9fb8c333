// vm.destroy and vm.list.
import type { JobOutput } from '../../contracts/jobs.js';
import type { ContainerDeps } from './guest.js';

/** Closes the VM's published ports, destroys its domain and removes its files. Idempotent. */
export function vmDestroyHandler(deps: Pick<ContainerDeps, 'vms' | 'ports' | 'events'>) {
  return async (input: { vmId: string }): Promise<JobOutput<'vm.destroy'>> => {
    await deps.ports.unpublish(input.vmId);
    const record = deps.vms.find(input.vmId)?.record;
    const destroyed = await deps.vms.destroy(input.vmId);
    // Only a VM this hostd knew has an owner to tell; records from before events have none.
    if (destroyed && record?.tenantId) {
      await deps.events.publish({ type: 'vm', action: 'destroy', tenantId: record.tenantId, actor: { id: input.vmId, attributes: { hostId: record.hostId, ...(record.containerId ? { container: record.containerId } : {}) } } });
    }
    return { destroyed };
  };
}

export function vmListHandler(deps: Pick<ContainerDeps, 'vms'>) {
  return async (): Promise<JobOutput<'vm.list'>> => {
    const vms = await deps.vms.list();
    return { vms: vms.filter((v) => v.state === 'running').map(({ vmId, domainName, running, state }) => ({ vmId, domainName, running, state })) };
  };
}
