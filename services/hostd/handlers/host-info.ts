import { hostname } from 'node:os';
import type { Connection } from '../../../native/libvirt/index.js';
import type { HostInfo } from '../../contracts/jobs.js';
import { FORKD_VERSION } from '../../contracts/version.js';
import type { AccelVerdict } from '../accel.js';
import { ksmStatus } from '../ksm.js';
import { libvirtCall } from '../libvirt.js';

/** `host.info`: the facts /v1/info shows, read from libvirt each time. */
export function hostInfoHandler(deps: { conn: Connection; hostId: string; accel: AccelVerdict; libvirtVersion: string; qemuVersion: string }) {
  return async (): Promise<HostInfo> => {
    const [node, freeBytes, domains] = await libvirtCall('reading host info', async () => Promise.all([
      deps.conn.getNodeInfo(),
      deps.conn.getFreeMemory(),
      deps.conn.listAllDomains(0),
    ]));
    let running = 0;
    let total = 0;
    for (const d of domains) {
      if (d.name.startsWith('forkd-vm-')) {
        total++;
        if ((await d.getState().catch(() => null))?.state === 'running') running++;
      }
      await d.free();
    }
    return {
      hostId: deps.hostId,
      hostname: hostname(),
      forkdVersion: FORKD_VERSION,
      accel: deps.accel.accel,
      accelReason: deps.accel.reason,
      libvirtVersion: deps.libvirtVersion,
      qemuVersion: deps.qemuVersion,
      capacity: { cpus: node.cpus, memoryMib: Math.floor(node.memoryBytes / 2 ** 20), freeMemoryMib: Math.floor(freeBytes / 2 ** 20) },
      vms: { running, total },
      ksm: await ksmStatus(),
    };
  };
}
