// vm.destroy and vm.list.
import type { JobOutput } from '../../contracts/jobs.js';
import type { ContainerDeps } from './guest.js';

/** Closes the VM's published ports, destroys its domain and removes its files. Idempotent. */
export function vmDestroyHandler(deps: Pick<ContainerDeps, 'vms' | 'ports'>) {
  return async (input: { vmId: string }): Promise<JobOutput<'vm.destroy'>> => {
    await deps.ports.unpublish(input.vmId);
    return { destroyed: await deps.vms.destroy(input.vmId) };
  };
}

export function vmListHandler(deps: Pick<ContainerDeps, 'vms'>) {
  return async (): Promise<JobOutput<'vm.list'>> => {
    const vms = await deps.vms.list();
    return { vms: vms.filter((v) => v.state === 'running').map(({ vmId, domainName, running, state }) => ({ vmId, domainName, running, state })) };
  };
}
