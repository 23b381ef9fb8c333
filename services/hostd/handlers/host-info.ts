import { hostname } from 'node:os';
import { ListDomainsFlags, type Connection, type Domain } from '../../../native/libvirt/index.js';
import type { HostInfo } from '../../contracts/jobs.js';
import { FORKD_VERSION } from '../../contracts/version.js';
import type { AccelVerdict } from '../accel.js';
import { ksmStatus } from '../ksm.js';
import { libvirtCall } from '../libvirt.js';

/**
 * `host.info`: the facts /v1/info shows, read from libvirt each time. `conn` is
 * a connection of its own: hostd's main one runs one call at a time, and behind
 * a busy host's VM operations (32 forks, their teardowns) this job's calls
 * waited longer than its callers' 15 s. Two listings count the VMs (all and
 * running) instead of one state call per domain.
 */
export function hostInfoHandler(deps: { conn: Connection; hostId: string; accel: AccelVerdict; libvirtVersion: string; qemuVersion: string }) {
  return async (): Promise<HostInfo> => {
    const [node, freeBytes, all, running] = await libvirtCall('reading host info', async () => Promise.all([
      deps.conn.getNodeInfo(),
      deps.conn.getFreeMemory(),
      deps.conn.listAllDomains(ListDomainsFlags.ALL),
      deps.conn.listAllDomains(ListDomainsFlags.RUNNING),
    ]));
    const ours = async (domains: Domain[]): Promise<number> => {
      const n = domains.filter((d) => d.name.startsWith('forkd-vm-')).length;
      await Promise.all(domains.map((d) => d.free().catch(() => undefined)));
      return n;
    };
    return {
      hostId: deps.hostId,
      hostname: hostname(),
      forkdVersion: FORKD_VERSION,
      accel: deps.accel.accel,
      accelReason: deps.accel.reason,
      libvirtVersion: deps.libvirtVersion,
      qemuVersion: deps.qemuVersion,
      capacity: { cpus: node.cpus, memoryMib: Math.floor(node.memoryBytes / 2 ** 20), freeMemoryMib: Math.floor(freeBytes / 2 ** 20) },
      vms: { running: await ours(running), total: await ours(all) },
      ksm: await ksmStatus(),
    };
  };
}
