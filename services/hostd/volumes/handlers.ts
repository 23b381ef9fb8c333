// volume.create and volume.delete: the disks of this host's volumes.
import { ForkdError } from '../../contracts/errors.js';
import type { JobOutput } from '../../contracts/jobs.js';
import type { VmManager } from '../vm/vm-manager.js';
import type { VolumeStore } from './volume-store.js';

export function volumeCreateHandler(store: VolumeStore) {
  return async (input: { volumeId: string; sizeMib: number }): Promise<JobOutput<'volume.create'>> => ({
    created: await store.create(input.volumeId, input.sizeMib),
  });
}

/** Refuses while a VM here has the disk plugged in: the API's claim should prevent that, this is the host's own check. */
export function volumeDeleteHandler(store: VolumeStore, vms: Pick<VmManager, 'running'>) {
  return async (input: { volumeId: string }): Promise<JobOutput<'volume.delete'>> => {
    store.pathOf(input.volumeId); // validates the id
    const user = vms.running().find((vm) => vm.record.volumes?.some((v) => v.volumeId === input.volumeId));
    if (user) {
      throw new ForkdError('ERR_CONFLICT', `volume ${input.volumeId} is attached to VM ${user.vmId}`, { detail: { volumeId: input.volumeId, vmId: user.vmId } });
    }
    return { deleted: await store.delete(input.volumeId) };
  };
}
