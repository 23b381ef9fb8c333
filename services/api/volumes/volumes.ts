// Volumes: a tenant's named, persistent disks (docs/volumes.md). This class is
// the one service for them: the /v1/volumes routes, the container create's
// `volumes` and a Docker API layer in the same process all call it. Rows here,
// disks on their host (hostd's volume.create / volume.delete jobs).
//
// One writer at a time: a container create claims each of its volumes inside
// its own transaction (claim()); the claim goes when the container row goes
// (the foreign key sets it NULL) and counts for nothing once the holder's VM
// ended (failed, lost, gone), so a VM that died frees its volumes without
// anyone having to write them.
import { NO_EVENTS, type EventPublisher, type NewEvent } from '../../contracts/events/index.js';
import { randomUUID } from 'node:crypto';
import { ForkdError } from '../../contracts/errors.js';
import { errorFields } from '../../contracts/logger.js';
import type { Prisma, PrismaClient } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import type { HostJobs } from '../host-jobs.js';
import type { Placement } from '../placement.js';
import { assertVolumeName, checkLabels, liveHolder, volumeSize, type ClaimHolder } from './rules.js';

type Tx = Prisma.TransactionClient;

export interface CreateVolumeBody {
  name: string;
  /** Default DEFAULT_VOLUME_MIB (1024); VOLUME_SIZE_MIB bounds it. */
  sizeMib?: number;
  labels?: Record<string, string>;
}

export interface VolumeView {
  id: string;
  name: string;
  sizeMib: number;
  hostId: string;
  labels: Record<string, string>;
  createdAt: string;
  /** The live container holding the one-writer claim, or null. */
  attachedTo: { containerId: string; containerName: string; vmId: string } | null;
}

/** A volume a container create resolved (and, when asked, made). */
export interface ResolvedVolume {
  id: string;
  name: string;
  hostId: string;
  path: string;
  readOnly: boolean;
}

const WITH_HOLDER = { attachedContainer: { select: { id: true, name: true, vm: { select: { id: true, state: true } } } } } as const;
type Row = NonNullable<Awaited<ReturnType<Volumes['findRow']>>>;

/** volume.create formats a sparse file: seconds at most, even for a large one. */
const HOST_JOB_TIMEOUT_MS = 120_000;

export class Volumes {
  constructor(
    private readonly db: PrismaClient,
    private readonly placement: Pick<Placement, 'pickHost'>,
    private readonly hostJobs: Pick<HostJobs, 'call'>,
    private readonly opts: { maxMibPerTenant: number },
    private readonly log?: { warn(msg: string, fields?: Record<string, unknown>): void },
    /** `create` and `destroy` are published here (docs/operability.md). */
    private readonly events: EventPublisher = NO_EVENTS,
  ) {}

  /** Makes the row and the disk; ERR_CONFLICT (field name) when the name is taken. A failed create leaves neither. */
  async create(tenantId: string, body: CreateVolumeBody, hostId?: string): Promise<VolumeView> {
    assertVolumeName(body.name);
    const sizeMib = volumeSize(body.sizeMib);
    const labels = checkLabels(body.labels);
    const host = hostId ?? (await this.placement.pickHost()).hostId;
    const id = randomUUID();
    try {
      await this.db.$transaction(async (tx) => {
        await this.reserveQuota(tx, tenantId, sizeMib);
        await tx.volume.create({ data: { id, tenantId, name: body.name, sizeMib, hostId: host, ...(labels ? { labels } : {}) } });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ForkdError('ERR_CONFLICT', `a volume named ${JSON.stringify(body.name)} exists`, { field: 'name' });
      throw err;
    }
    try {
      await this.hostJobs.call(host, 'volume.create', { volumeId: id, sizeMib }, { timeoutMs: HOST_JOB_TIMEOUT_MS });
    } catch (err) {
      await this.db.volume.deleteMany({ where: { id } });
      // A timed-out job may still make the disk: ask the host to remove it (best effort; the error the caller needs is err).
      void this.hostJobs.call(host, 'volume.delete', { volumeId: id }, { timeoutMs: HOST_JOB_TIMEOUT_MS })
        .catch((e: unknown) => this.log?.warn('removing the disk of a failed volume create failed', { volumeId: id, ...errorFields(e) }));
      throw err;
    }
    const made = this.view(await this.row(tenantId, id));
    await this.events.publish(volumeEvent(tenantId, 'create', made));
    return made;
  }

  async list(tenantId: string): Promise<VolumeView[]> {
    const rows = await this.db.volume.findMany({ where: { tenantId }, include: WITH_HOLDER, orderBy: { createdAt: 'asc' } });
    return rows.map((r) => this.view(r));
  }

  /** By id or name; another tenant's volume is ERR_NOT_FOUND like a missing one. */
  async get(tenantId: string, idOrName: string): Promise<VolumeView> {
    return this.view(await this.row(tenantId, idOrName));
  }

  /** Deletes the disk, then the row; ERR_CONFLICT (naming the container) while a live container holds it. */
  async remove(tenantId: string, idOrName: string): Promise<VolumeView> {
    const row = await this.row(tenantId, idOrName);
    const holder = liveHolder(holderOf(row));
    if (holder) throw inUse(row.name, holder, 'name');
    await this.hostJobs.call(row.hostId, 'volume.delete', { volumeId: row.id }, { timeoutMs: HOST_JOB_TIMEOUT_MS });
    await this.db.volume.deleteMany({ where: { id: row.id } });
    const removed = this.view(row);
    await this.events.publish(volumeEvent(tenantId, 'destroy', removed));
    return removed;
  }

  /**
   * The volumes a container create names, by name or id; a name that does
   * not exist is created on `hostId` with the default size (Docker's
   * `-v name:/path` does the same). A volume on another host than the
   * container's is ERR_CONFLICT: its disk cannot travel.
   */
  async resolveForContainer(tenantId: string, hostId: string, requests: ReadonlyArray<{ volume: string; path: string; readOnly: boolean }>): Promise<ResolvedVolume[]> {
    const out: ResolvedVolume[] = [];
    for (const [i, r] of requests.entries()) {
      let row = await this.findRow(tenantId, r.volume);
      if (!row) {
        try {
          await this.create(tenantId, { name: r.volume }, hostId);
        } catch (err) {
          // Another request made it meanwhile: use theirs.
          if (!(err instanceof ForkdError && err.code === 'ERR_CONFLICT' && err.field === 'name')) throw err;
        }
        row = await this.row(tenantId, r.volume);
      }
      if (row.hostId !== hostId) {
        throw new ForkdError('ERR_CONFLICT', `volume ${row.name} lives on host ${row.hostId}; this container would run on ${hostId}`, { field: `volumes[${i}].volume`, detail: { hostId: row.hostId } });
      }
      out.push({ id: row.id, name: row.name, hostId: row.hostId, path: r.path, readOnly: r.readOnly });
    }
    return out;
  }

  /**
   * Inside the container create's transaction, after its Container row:
   * takes each volume's claim for it. ERR_CONFLICT naming the volume and the
   * container holding it; the transaction then rolls back and nothing is claimed.
   */
  async claim(tx: Tx, tenantId: string, volumes: readonly ResolvedVolume[], containerId: string, vmId: string): Promise<void> {
    for (const [i, v] of volumes.entries()) {
      const row = await tx.volume.findFirst({ where: { id: v.id, tenantId }, include: WITH_HOLDER });
      if (!row) throw new ForkdError('ERR_NOT_FOUND', `volume ${v.name} was deleted`, { field: `volumes[${i}].volume` });
      const holder = liveHolder(holderOf(row));
      if (holder) throw inUse(row.name, holder, `volumes[${i}].volume`);
      // Compare-and-set on the claim seen above: a create racing for the same volume changes it, and this one then fails.
      const taken = await tx.volume.updateMany({ where: { id: v.id, attachedContainerId: row.attachedContainerId }, data: { attachedContainerId: containerId, attachedVmId: vmId } });
      if (taken.count !== 1) throw new ForkdError('ERR_CONFLICT', `volume ${row.name} was just attached to another container`, { field: `volumes[${i}].volume` });
    }
  }

  /** Sum of the tenant's volume sizes plus `sizeMib` within FORKD_VOLUME_MIB_PER_TENANT, checked where creates of a tenant serialize (the tenant row's write, as the VM quota). */
  private async reserveQuota(tx: Tx, tenantId: string, sizeMib: number): Promise<void> {
    await tx.tenant.update({ where: { id: tenantId }, data: { updatedAt: new Date() } });
    const used = (await tx.volume.aggregate({ where: { tenantId }, _sum: { sizeMib: true } }))._sum.sizeMib ?? 0;
    if (used + sizeMib > this.opts.maxMibPerTenant) {
      throw new ForkdError('ERR_QUOTA', `volumes of this tenant would total ${used + sizeMib} MiB, over FORKD_VOLUME_MIB_PER_TENANT (${this.opts.maxMibPerTenant} MiB)`, { field: 'sizeMib', detail: { usedMib: used, maxMib: this.opts.maxMibPerTenant } });
    }
  }

  findRow(tenantId: string, idOrName: string) {
    return this.db.volume.findFirst({ where: { tenantId, OR: [{ id: idOrName }, { name: idOrName }] }, include: WITH_HOLDER });
  }

  private async row(tenantId: string, idOrName: string): Promise<Row> {
    const row = await this.findRow(tenantId, idOrName);
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no volume ${JSON.stringify(idOrName)}`, { field: 'volume' });
    return row;
  }

  view(row: Row): VolumeView {
    const holder = liveHolder(holderOf(row));
    return {
      id: row.id,
      name: row.name,
      sizeMib: row.sizeMib,
      hostId: row.hostId,
      labels: (row.labels as Record<string, string> | null) ?? {},
      createdAt: row.createdAt.toISOString(),
      attachedTo: holder && row.attachedContainer ? { containerId: holder.containerId, containerName: holder.containerName, vmId: row.attachedContainer.vm.id } : null,
    };
  }
}

function holderOf(row: Row): ClaimHolder | null {
  const c = row.attachedContainer;
  return c ? { containerId: c.id, containerName: c.name, vmState: c.vm.state } : null;
}

function inUse(volume: string, holder: ClaimHolder, field: string): ForkdError {
  return new ForkdError('ERR_CONFLICT', `volume ${volume} is in use by container ${holder.containerName} (${holder.containerId}): one writer at a time; remove that container first`, {
    field, detail: { volume, containerId: holder.containerId, containerName: holder.containerName },
  });
}

function volumeEvent(tenantId: string, action: 'create' | 'destroy', v: VolumeView): NewEvent {
  return { type: 'volume', action, tenantId, actor: { id: v.id, name: v.name, attributes: { sizeMib: String(v.sizeMib), hostId: v.hostId } } };
}
