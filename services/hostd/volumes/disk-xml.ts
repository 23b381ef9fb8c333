// The libvirt <disk> of a volume hot-plugged into a running VM. Pure.
//
// Where it goes: the VM's machine is i440FX (domain-xml.ts), whose root PCI
// bus takes ACPI hotplug on any free slot. Fixed devices use slots 3..5+n
// (NIC, virtio-serial, disks); volumes take slots from VOLUME_FIRST_SLOT up,
// one per volume, so a clone's template never has anything there.
import { ForkdError } from '../../contracts/errors.js';
import { MAX_VOLUMES_PER_CONTAINER } from '../../contracts/jobs.js';
import { escapeXml } from '../vm/domain-xml.js';

export const VOLUME_FIRST_SLOT = 0x10;

/**
 * The virtio-blk serial the guest sees in /sys/block/vdX/serial: the volume id
 * without dashes, cut to virtio-blk's 20 bytes. Unique among one VM's volumes
 * (hostd checks), which is all the agent needs to find the right disk.
 */
export function volumeSerial(volumeId: string): string {
  return volumeId.replace(/[^A-Za-z0-9]/g, '').slice(0, 20);
}

export interface VolumeDisk {
  path: string;
  serial: string;
  readOnly: boolean;
  /** 0-based position among the VM's volumes: picks the slot and the target name. */
  index: number;
}

export function volumeDiskXml(d: VolumeDisk): string {
  if (!Number.isInteger(d.index) || d.index < 0 || d.index >= MAX_VOLUMES_PER_CONTAINER) {
    throw new ForkdError('ERR_VALIDATION', `at most ${MAX_VOLUMES_PER_CONTAINER} volumes per container`, { field: 'volumes' });
  }
  if (!/^[A-Za-z0-9]{1,20}$/.test(d.serial)) throw new ForkdError('ERR_VALIDATION', `invalid volume serial ${JSON.stringify(d.serial)}`, { field: 'volumes' });
  const slot = (VOLUME_FIRST_SLOT + d.index).toString(16).padStart(2, '0');
  // Target names after the root disk's vda; the guest names disks by probe order anyway, so the agent goes by serial.
  const target = `vd${String.fromCharCode('p'.charCodeAt(0) + d.index)}`;
  return (
    `<disk type='file' device='disk'><driver name='qemu' type='raw' discard='unmap'/>` +
    `<source file='${escapeXml(d.path)}'/><target dev='${target}' bus='virtio'/>` +
    `<serial>${d.serial}</serial>${d.readOnly ? '<readonly/>' : ''}` +
    `<address type='pci' domain='0x0000' bus='0x00' slot='0x${slot}' function='0x0'/></disk>`
  );
}
