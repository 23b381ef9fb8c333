// Where a new VM goes (docs/multi-host.md). Hosts are learned from their Redis
// announcements and mirrored into the Host table (VMs refer to them), with
// capacity from each host's `host.info`.
// - A new VM: the up, not draining host with room for its memory, fewest live VMs first.
// - A fork: the host holding its template or parent, nowhere else (a fork
//   shares that host's files and memory); if that host is down, draining or
//   full the fork fails with ERR_FORK_CROSS_HOST instead of going elsewhere.
import { ForkdError } from '../contracts/errors.js';
import type { HostInfo } from '../contracts/jobs.js';
import { VM_ENDED_STATES } from '../contracts/lifecycle/index.js';
import type { PrismaClient } from './db/client.js';
import type { HostJobs, KnownHost } from './host-jobs.js';

const INFO_TTL_MS = 60_000;

/** What a new VM needs from its host. */
export interface VmNeeds {
  memoryMib: number;
}

export class Placement {
  private readonly infos = new Map<string, { at: number; info: HostInfo }>();

  constructor(private readonly db: PrismaClient, private readonly hostJobs: HostJobs) {}

  async pickHost(needs: VmNeeds = { memoryMib: 0 }): Promise<HostInfo> {
    const up = (await this.hostJobs.listHosts()).filter((h) => h.up && !h.draining);
    if (up.length === 0) throw new ForkdError('ERR_NO_CAPACITY', 'no host is up: start `forkd up` or `forkd hostd` on a KVM host');
    const candidates = await Promise.all(up.map(async (h) => {
      const info = await this.hostInfo(h.hostId).catch(() => null); // a host that does not answer gets nothing new
      return { hostId: h.hostId, info, vms: await this.liveVms(h.hostId) };
    }));
    const roomy = candidates.filter((c) => c.info && hasRoom(c.info, needs));
    if (roomy.length === 0) {
      throw new ForkdError('ERR_NO_CAPACITY', `no up host has ${needs.memoryMib} MiB free for another VM (${candidates.map((c) => `${c.hostId}: ${c.info ? `${c.info.capacity.freeMemoryMib} MiB free` : 'not answering'}`).join(', ')})`);
    }
    roomy.sort((a, b) => a.vms - b.vms || b.info!.capacity.freeMemoryMib - a.info!.capacity.freeMemoryMib || a.hostId.localeCompare(b.hostId));
    return roomy[0]!.info!;
  }

  /**
   * The host a fork must run on (its template's or its parent's), checked to be
   * up, not draining and with room; ERR_FORK_CROSS_HOST naming `field` otherwise.
   */
  async forkHost(hostId: string, what: string, field: string, needs: VmNeeds = { memoryMib: 0 }): Promise<HostInfo> {
    const host = (await this.hostJobs.listHosts()).find((h) => h.hostId === hostId);
    const why = forkHostProblem(host);
    const info = why ? null : await this.hostInfo(hostId).catch(() => null);
    const problem = why ?? (!info ? 'does not answer' : !hasRoom(info, needs) ? `is full (${info.capacity.freeMemoryMib} MiB free, ${needs.memoryMib} MiB needed)` : null);
    if (problem) {
      throw new ForkdError('ERR_FORK_CROSS_HOST', `${what} is on host ${hostId}, which ${problem}: forks cannot cross hosts (a fork shares its source's files and memory on that host); wait for ${hostId}, or create the container anew elsewhere`, { field, detail: { hostId } });
    }
    return info!;
  }

  private liveVms(hostId: string): Promise<number> {
    return this.db.vm.count({ where: { hostId, state: { notIn: [...VM_ENDED_STATES] } } });
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

/** Free memory as the host last reported it (at most a minute old): a host below the VM's memory is full. */
export function hasRoom(info: HostInfo, needs: VmNeeds): boolean {
  return info.capacity.freeMemoryMib >= needs.memoryMib;
}

function forkHostProblem(host: KnownHost | undefined): string | null {
  if (!host) return 'is not known';
  if (!host.up) return 'is down';
  if (host.draining) return 'is draining';
  return null;
}
