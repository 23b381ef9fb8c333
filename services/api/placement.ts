// Where a new VM goes (docs/multi-host.md). Hosts are learned from their Redis
// announcements and mirrored into the Host table (VMs refer to them), with
// capacity from the same announcements: each heartbeat (every 5 s) carries the
// host's free memory and versions, so placing never waits on a job of a busy
// hostd. Only a hostd whose heartbeat lacks them (older than this code) is
// asked `host.info`, as before.
// - A new VM: the up, not draining host with room for its memory, fewest live VMs first.
// - A fork: the host holding its template or parent, nowhere else (a fork
//   shares that host's files and memory); if that host is down, draining or
//   full the fork fails with ERR_FORK_CROSS_HOST instead of going elsewhere.
import { ForkdError } from '../contracts/errors.js';
import type { HostFacts, HostInfo } from '../contracts/jobs.js';
import { VM_ENDED_STATES } from '../contracts/lifecycle/index.js';
import type { PrismaClient } from './db/client.js';
import type { HostJobs, KnownHost } from './host-jobs.js';

const INFO_TTL_MS = 60_000;

/** What placement knows of a host: its announcement's facts (or, from an older hostd, its `host.info`). */
export type PlacedHost = Pick<HostInfo, 'hostId' | 'hostname' | 'accel' | 'libvirtVersion' | 'qemuVersion' | 'capacity'>;

/** What a new VM needs from its host. */
export interface VmNeeds {
  memoryMib: number;
}

export class Placement {
  private readonly infos = new Map<string, { at: number; info: PlacedHost }>();
  /** When each host's row was last written (at most once a minute, as it was with host.info). */
  private readonly rows = new Map<string, number>();

  constructor(private readonly db: PrismaClient, private readonly hostJobs: HostJobs) {}

  async pickHost(needs: VmNeeds = { memoryMib: 0 }): Promise<PlacedHost> {
    const up = (await this.hostJobs.listHosts()).filter((h) => h.up && !h.draining);
    if (up.length === 0) throw new ForkdError('ERR_NO_CAPACITY', 'no host is up: start `forkd up` or `forkd hostd` on a KVM host');
    const candidates = await Promise.all(up.map(async (h) => {
      const info = await this.facts(h).catch(() => null); // an older host that does not answer gets nothing new
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
  async forkHost(hostId: string, what: string, field: string, needs: VmNeeds = { memoryMib: 0 }): Promise<PlacedHost> {
    const host = (await this.hostJobs.listHosts()).find((h) => h.hostId === hostId);
    const why = forkHostProblem(host);
    const info = why ? null : await this.facts(host!).catch(() => null);
    const problem = why ?? (!info ? 'does not answer' : !hasRoom(info, needs) ? `is full (${info.capacity.freeMemoryMib} MiB free, ${needs.memoryMib} MiB needed)` : null);
    if (problem) {
      throw new ForkdError('ERR_FORK_CROSS_HOST', `${what} is on host ${hostId}, which ${problem}: forks cannot cross hosts (a fork shares its source's files and memory on that host); wait for ${hostId}, or create the container anew elsewhere`, { field, detail: { hostId } });
    }
    return info!;
  }

  private liveVms(hostId: string): Promise<number> {
    return this.db.vm.count({ where: { hostId, state: { notIn: [...VM_ENDED_STATES] } } });
  }

  /** A known host's facts: from its heartbeat, else (an older hostd) from `host.info`; its Host row kept in step. */
  async facts(host: KnownHost): Promise<PlacedHost> {
    if (!host.facts) return this.hostInfo(host.hostId);
    const info = placedFrom(host, host.facts);
    await this.keepRow(info);
    return info;
  }

  /**
   * The host's facts by id: its announcement's when it has them, else a
   * `host.info` job (refreshed at most once a minute). ERR_HOST_UNAVAILABLE
   * for a host that never announced itself.
   */
  async hostInfo(hostId: string): Promise<PlacedHost> {
    const known = (await this.hostJobs.listHosts()).find((h) => h.hostId === hostId);
    if (known?.facts) return this.facts(known);
    const cached = this.infos.get(hostId);
    if (cached && Date.now() - cached.at < INFO_TTL_MS) return cached.info;
    const info = await this.hostJobs.call(hostId, 'host.info', {}, { timeoutMs: 15_000 });
    this.rows.delete(hostId); // written now, whatever the last write was
    await this.keepRow(info);
    this.infos.set(hostId, { at: Date.now(), info });
    return info;
  }

  /** Upserts the Host row (VM rows refer to it) at most once a minute per host. */
  private async keepRow(info: PlacedHost): Promise<void> {
    const at = this.rows.get(info.hostId);
    if (at !== undefined && Date.now() - at < INFO_TTL_MS) return;
    const row = {
      name: info.hostId, address: info.hostname, accel: info.accel, cpus: info.capacity.cpus, memoryMib: info.capacity.memoryMib,
      libvirtVersion: info.libvirtVersion, qemuVersion: info.qemuVersion, state: 'up', lastSeenAt: new Date(),
    };
    await this.db.host.upsert({ where: { id: info.hostId }, update: row, create: { id: info.hostId, ...row } });
    this.rows.set(info.hostId, Date.now());
  }
}

function placedFrom(host: KnownHost, facts: HostFacts): PlacedHost {
  return { hostId: host.hostId, hostname: host.hostname, accel: host.accel, libvirtVersion: facts.libvirtVersion, qemuVersion: facts.qemuVersion, capacity: facts.capacity };
}

/** Free memory as the host last reported it (its last heartbeat): a host below the VM's memory is full. */
export function hasRoom(info: PlacedHost, needs: VmNeeds): boolean {
  return info.capacity.freeMemoryMib >= needs.memoryMib;
}

function forkHostProblem(host: KnownHost | undefined): string | null {
  if (!host) return 'is not known';
  if (!host.up) return 'is down';
  if (host.draining) return 'is draining';
  return null;
}
