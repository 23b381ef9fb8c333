// Attaching volumes to a VM that already runs: cold-booted, forked, or taken
// from the warm pool, one path for all. The disk is hot-plugged into the live
// domain (virDomainAttachDeviceFlags, LIVE), so a fork keeps its speed: the
// template and its pool shells know nothing of volumes, and the take costs
// one device_add per volume. Nothing is detached by hand: the disk goes with
// the VM's QEMU when the VM is destroyed.
import { DomainModificationImpact } from '../../../native/libvirt/index.js';
import { ForkdError } from '../../contracts/errors.js';
import type { VolumeMount } from '../../contracts/jobs.js';
import { fromLibvirtError } from '../libvirt.js';
import type { ManagedVm } from '../vm/vm-manager.js';
import { volumeDiskXml, volumeSerial } from './disk-xml.js';
import type { VolumeStore } from './volume-store.js';

/** What the agent gets for each volume: the disk's serial and where it goes in the container. */
export interface GuestVolume {
  serial: string;
  destination: string;
  readOnly: boolean;
}

/** Checks a VM's volume list before anything is plugged: known disks, distinct serials and paths. */
export function planVolumes(store: Pick<VolumeStore, 'has'>, volumes: readonly VolumeMount[]): GuestVolume[] {
  const serials = new Set<string>();
  const paths = new Set<string>();
  return volumes.map((v) => {
    if (!store.has(v.volumeId)) throw new ForkdError('ERR_NOT_FOUND', `volume ${v.name} has no disk on this host`, { field: 'volumes', detail: { volumeId: v.volumeId } });
    const serial = volumeSerial(v.volumeId);
    if (serials.has(serial)) throw new ForkdError('ERR_CONFLICT', `volume ${v.name} is listed twice (or two volume ids share a serial)`, { field: 'volumes' });
    if (paths.has(v.path)) throw new ForkdError('ERR_VALIDATION', `two volumes mount at ${v.path}`, { field: 'volumes' });
    serials.add(serial);
    paths.add(v.path);
    return { serial, destination: v.path, readOnly: v.readOnly };
  });
}

/**
 * Hot-plugs each volume's disk into the running VM, skipping those a retried
 * job already plugged (the VM's record lists them). Returns what the agent
 * needs to mount them.
 */
export async function attachVolumes(vm: ManagedVm, store: VolumeStore, volumes: readonly VolumeMount[]): Promise<GuestVolume[]> {
  const plan = planVolumes(store, volumes);
  if (plan.length === 0) return plan;
  if (!vm.domain) throw new ForkdError('ERR_INTERNAL', `VM ${vm.vmId} has no domain handle to attach volumes to`);
  const attached = (vm.record.volumes ??= []);
  for (const [index, v] of volumes.entries()) {
    const serial = plan[index]!.serial;
    if (attached.some((a) => a.serial === serial)) continue;
    const xml = volumeDiskXml({ path: store.pathOf(v.volumeId), serial, readOnly: v.readOnly, index });
    try {
      await vm.domain.attachDevice(xml, DomainModificationImpact.LIVE);
    } catch (err) {
      throw fromLibvirtError(err, `attaching volume ${v.name} to VM ${vm.vmId}`);
    }
    attached.push({ volumeId: v.volumeId, serial });
  }
  return plan;
}
