// Where a new VM goes: the up host with the fewest live VMs. Hosts are learned
// from their Redis announcements and mirrored into the Host table (VMs refer
// to them), with capacity from each host's `host.info`.
import { ForkdError } from '../contracts/errors.js';
import type { HostInfo } from '../contracts/jobs.js';
import { VM_ENDED_STATES } from '../contracts/lifecycle/index.js';
import type { PrismaClient } from './db/client.js';
import type { HostJobs } from './host-jobs.js';

const INFO_TTL_MS = 60_000;

export class Placement {
  private readonly infos = new Map<string, { at: number; info: HostInfo }>();

  constructor(private readonly db: PrismaClient, private readonly hostJobs: HostJobs) {}

  async pickHost(): Promise<HostInfo> {
    const up = (await this.hostJobs.listHosts()).filter((h) => h.up && !h.draining);
    if (up.length === 0) throw new ForkdError('ERR_NO_CAPACITY', 'no host is up: start `forkd up` or `forkd hostd` on a KVM host');
    const loads = await Promise.all(up.map(async (h) => ({
      hostId: h.hostId,
      vms: await this.db.vm.count({ where: { hostId: h.hostId, state: { notIn: [...VM_ENDED_STATES] } } }),
    })));
    loads.sort((a, b) => a.vms - b.vms || a.hostId.localeCompare(b.hostId));
    return this.hostInfo(loads[0]!.hostId);
  }

  /** The host's facts, refreshed at most once a minute, and its Host row kept in step. */
  async hostInfo(hostId: string): Promise<HostInfo> {
    const cached = this.infos.get(hostId);
    if (cached && Date.now() - cached.at < INFO_TTL_MS) return cached.info;
    const info = await this.hostJobs.call(hostId, 'host.info', {}, { timeoutMs: 15_000 });
    const row = {
      name: info.hostId, address: info.hostname, accel: info.accel, cpus: info.capacity.cpus, memoryMib: info.capacity.memoryMib,
      libvirtVersion: info.libvirtVersion, qemuVersion: info.qemuVersion, state: 'up', lastSeenAt: new Date(),
    };
    await this.db.host.upsert({ where: { id: hostId }, update: row, create: { id: hostId, ...row } });
    this.infos.set(hostId, { at: Date.now(), info });
    return info;
  }
}
