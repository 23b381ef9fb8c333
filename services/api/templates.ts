// Templates as the API sees them: one row per (host, image, size), built by the
// host on request or on a container's first fork, refused for deletion while
// VMs use it. The files live on the host; the row records where and what.
import { NO_EVENTS, type EventPublisher, type NewEvent } from '../contracts/events/index.js';
import { ForkdError } from '../contracts/errors.js';
import type { ContainerSpec, PoolStatus, SealedContainerSpec, TemplateFacts } from '../contracts/jobs.js';
import { templateStateFromHost, VM_ENDED_STATES } from '../contracts/lifecycle/index.js';
import { appContainerSubject, sealEnv } from '../contracts/secrets/index.js';
import type { PrismaClient } from './db/client.js';
import { templateStates } from './lifecycle/state-writes.js';
import { isUniqueViolation } from './db/errors.js';
import type { HostJobs } from './host-jobs.js';
import type { Images } from './images.js';
import type { Operations, ReportProgress } from './operations/operations.js';
import { view as operationView, within, type OperationView } from './operations/rules.js';
import type { Placement } from './placement.js';
import { assertMayChangeTemplate, assertMayCreateTemplate, templateOwner, visibleTemplatesWhere, type Actor } from './tenancy/policy.js';

export interface TemplateView {
  id: string;
  hostId: string;
  image: string | null;
  vcpus: number;
  memoryMib: number;
  accel: string;
  qemuVersion: string;
  machineType: string;
  state: string;
  poolSize: number;
  pool: PoolStatus | null;
  files: unknown;
  error: string | null;
  createdAt: string;
  readyAt: string | null;
  vms: number;
  /** 'build', or 'snapshot' (a running container frozen; `origin` says which). */
  kind: string;
  origin: { containerId: string; name: string; takenAt: string } | null;
}

export interface CreateTemplateBody {
  image?: string | null;
  vcpus?: number;
  memoryMib?: number;
  poolSize?: number;
  /** An app template: these run before the snapshot, so forks start with them running. */
  containers?: Array<{ command: string[]; env?: string[]; workingDir?: string }>;
}

/** A first build under TCG boots a guest and imports the image: give it time. */
const BUILD_TIMEOUT_MS = 20 * 60_000;
const MACHINE_TYPE = 'pc-i440fx-7.2';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['template']['findFirst']>>> & { image?: { digest: string; tenantId: string } | null };

export class Templates {
  constructor(
    private readonly db: PrismaClient,
    private readonly images: Images,
    private readonly placement: Placement,
    private readonly hostJobs: HostJobs,
    private readonly defaultPoolSize: number,
    /** Seals app containers' env in the template.build job (docs/secrets.md). */
    private readonly secretKey: Buffer,
    private readonly operations: Operations,
    private readonly events: EventPublisher = NO_EVENTS,
  ) {
    operations.onInterrupted('template.create', (id) => this.abandon(id));
  }

  async view(row: Row, pool: PoolStatus | null = null): Promise<TemplateView> {
    const vms = await this.db.vm.count({ where: { templateId: row.id, state: { notIn: [...VM_ENDED_STATES] } } });
    return {
      id: row.id, hostId: row.hostId, image: row.image?.digest ?? null, vcpus: row.vcpus, memoryMib: row.memoryMib,
      accel: row.accel, qemuVersion: row.qemuVersion, machineType: row.machineType, state: row.state, poolSize: row.poolSize,
      pool, files: row.checksums ?? null, error: row.error, createdAt: row.createdAt.toISOString(), readyAt: row.readyAt?.toISOString() ?? null, vms,
      kind: row.kind, origin: originView(row.origin),
    };
  }

  /** A template the actor may see (tenancy/policy.ts says which), or ERR_NOT_FOUND. */
  async row(actor: Actor, id: string): Promise<Row> {
    const row = await this.db.template.findFirst({ where: { AND: [{ id }, visibleTemplatesWhere(actor)] }, include: { image: true } });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no template ${JSON.stringify(id)}`, { field: 'id' });
    return row;
  }

  /** A template the actor may resize or delete: ERR_NOT_FOUND if unseen, ERR_FORBIDDEN if shared. */
  private async rowToChange(actor: Actor, id: string, action: 'resize' | 'delete'): Promise<Row> {
    const row = await this.row(actor, id);
    assertMayChangeTemplate(actor, templateOwner(row), row.id, action);
    return row;
  }

  async list(actor: Actor): Promise<TemplateView[]> {
    const rows = await this.db.template.findMany({ where: visibleTemplatesWhere(actor), include: { image: true }, orderBy: { createdAt: 'desc' } });
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async get(actor: Actor, id: string): Promise<TemplateView> {
    const row = await this.row(actor, id);
    const status = await this.hostJobs.call(row.hostId, 'template.status', { templateId: row.id }, { timeoutMs: 15_000 }).catch(() => null);
    if (status && row.state === 'ready' && status.state !== 'ready') {
      const state = templateStateFromHost(status.state);
      await templateStates.write(this.db, row.id, state, { error: status.reason });
      return this.view({ ...row, state, error: status.reason }, status.pool);
    }
    return this.view(row, status?.pool ?? null);
  }

  /**
   * Checks the request and makes the `building` row now (so a bad image or a
   * duplicate is a 4xx at once), then builds in the background: the answer is
   * the operation to follow, whose result is the ready template.
   */
  async create(actor: Actor, body: CreateTemplateBody): Promise<OperationView> {
    assertMayCreateTemplate(actor, Boolean(body.image));
    const tenantId = actor.tenantId;
    const image = body.image ? await this.images.resolve(tenantId, body.image) : null;
    const host = await this.placement.pickHost();
    const size = { vcpus: body.vcpus ?? 1, memoryMib: body.memoryMib ?? 256 };
    const existing = await this.db.template.findFirst({ where: { hostId: host.hostId, imageId: image?.id ?? null, ...size, buildSlot: 'build' } });
    if (existing) {
      throw new ForkdError('ERR_CONFLICT', `template ${existing.id} already exists for this image and size on ${host.hostId} (${existing.state})`, { field: 'image', detail: { templateId: existing.id } });
    }
    const { row, operation } = await this.db.$transaction(async (tx) => {
      const row = await tx.template.create({
        data: { hostId: host.hostId, imageId: image?.id ?? null, ...size, accel: host.accel, qemuVersion: host.qemuVersion, machineType: MACHINE_TYPE, poolSize: body.poolSize ?? 0 },
        include: { image: true },
      });
      const operation = await this.operations.start({ tenantId, hostId: host.hostId, kind: 'template.create', targetId: row.id, step: 'queued' }, tx);
      return { row, operation };
    });
    const config = (image?.config ?? {}) as { Env?: string[]; WorkingDir?: string };
    const containers = (body.containers ?? []).map((c, i) => {
      const containerId = `app-${i}`;
      const spec = { command: c.command, env: [...(config.Env ?? []), ...(c.env ?? [])], ...(c.workingDir ?? config.WorkingDir ? { workingDir: c.workingDir ?? config.WorkingDir } : {}), limits: {} } satisfies ContainerSpec;
      return { containerId, spec: { ...spec, env: sealEnv(this.secretKey, appContainerSubject(row.id, containerId), spec.env) } };
    });
    this.operations.run(operation, async (report) => this.build(row, image ? await this.images.forJob(image) : null, containers, report, { from: 0, to: 100 }));
    return operationView(operation);
  }

  /** Builds on the host; its progress fills `slice` of the operation's percent. */
  private async build(row: Row, image: Awaited<ReturnType<Images['forJob']>> | null, containers: Array<{ containerId: string; spec: SealedContainerSpec }>, report: ReportProgress, slice: { from: number; to: number }): Promise<TemplateView> {
    try {
      report({ percent: slice.from, step: 'template: queued' });
      const facts: TemplateFacts = await this.hostJobs.call(row.hostId, 'template.build', {
        templateId: row.id, image, vcpus: row.vcpus, memoryMib: row.memoryMib, poolSize: row.poolSize, containers,
      }, {
        timeoutMs: BUILD_TIMEOUT_MS, jobId: `template-${row.id}`,
        onProgress: (p) => report({ percent: within(slice, p.percent), ...(p.step ? { step: `template: ${p.step}` } : {}) }),
      });
      await templateStates.write(this.db, row.id, 'ready', {
        readyAt: new Date(), accel: facts.accel, qemuVersion: facts.qemuVersion, machineType: facts.machineType, checksums: facts.files as object, error: null,
      });
      const ready = await this.db.template.findUniqueOrThrow({ where: { id: row.id }, include: { image: true } });
      await this.events.publish(templateEvent(ready, 'create'));
      return this.view(ready, facts.pool);
    } catch (err) {
      // Nothing half-made stays: the host removed its files; the row goes too.
      await this.db.template.delete({ where: { id: row.id } }).catch(() => {});
      throw err;
    }
  }

  /**
   * The ready template a fork of `imageRowId` at this size should come from,
   * built on first use. Concurrent first uses share one build (the row's
   * unique index picks the builder; the others wait for it).
   */
  async forContainer(hostId: string, image: { id: string; digest: string } | null, size: { vcpus: number; memoryMib: number }, report: ReportProgress = () => {}, slice = { from: 0, to: 100 }): Promise<string> {
    // image null: the bare guest of this size (a pod's VM, services/api/pods/), shared by every tenant.
    const where = { hostId, imageId: image?.id ?? null, ...size, buildSlot: 'build' };
    for (let attempt = 0; attempt < 2; attempt++) {
      const found = await this.db.template.findFirst({ where });
      if (found?.state === 'ready') return found.id;
      if (found?.state === 'building') {
        report({ step: `template: waiting for ${found.id}, built by another request` });
        return this.waitReady(found.id);
      }
      if (found) {
        // stale or failed: rebuild under a new id once no VM needs the old files
        await this.db.template.delete({ where: { id: found.id } }).catch(() => {});
        void this.hostJobs.call(hostId, 'template.delete', { templateId: found.id }).catch(() => {});
      }
      let row: Row;
      try {
        const host = await this.placement.hostInfo(hostId);
        row = await this.db.template.create({
          data: { ...where, accel: host.accel, qemuVersion: host.qemuVersion, machineType: MACHINE_TYPE, poolSize: this.defaultPoolSize },
          include: { image: true },
        });
      } catch (err) {
        if (isUniqueViolation(err)) continue; // someone else started the build
        throw err;
      }
      await this.build(row, image ? await this.images.forJob(image) : null, [], report, slice);
      return row.id;
    }
    throw new ForkdError('ERR_INTERNAL', 'could not settle on a template');
  }

  private async waitReady(id: string): Promise<string> {
    const deadline = Date.now() + BUILD_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const row = await this.db.template.findUnique({ where: { id } });
      if (!row) throw new ForkdError('ERR_TEMPLATE_STALE', `template ${id} failed while another request was building it`);
      if (row.state === 'ready') return id;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new ForkdError('ERR_TIMEOUT', `template ${id} did not become ready in time`);
  }

  /** Its build was lost with a restarted API: the row says so (failed) rather than `building` forever. */
  private async abandon(id: string): Promise<void> {
    await this.db.template.updateMany({ where: { id, state: 'building' }, data: { state: 'failed', error: 'the API restarted during the build; delete this template and build it again' } });
  }

  async markUnusable(id: string, reason: string): Promise<void> {
    // Already stale, gone or rebuilding: nothing to mark, and the caller's own error matters more.
    await templateStates.write(this.db, id, 'stale', { error: reason }).catch(() => {});
  }

  async setPool(actor: Actor, id: string, size: number): Promise<TemplateView> {
    const row = await this.rowToChange(actor, id, 'resize');
    const status = await this.hostJobs.call(row.hostId, 'template.pool', { templateId: row.id, size });
    const updated = await this.db.template.update({ where: { id: row.id }, data: { poolSize: size }, include: { image: true } });
    return this.view(updated, status.pool);
  }

  async remove(actor: Actor, id: string): Promise<TemplateView> {
    const row = await this.rowToChange(actor, id, 'delete');
    const users = await this.db.vm.count({ where: { templateId: row.id, state: { notIn: [...VM_ENDED_STATES] } } });
    if (users > 0) throw new ForkdError('ERR_CONFLICT', `template ${row.id} is used by ${users} VM(s): remove them first`, { detail: { vms: users } });
    // A snapshot's disk is backed by the template its container came from (services/api/fork/).
    const snapshots = await this.db.template.count({ where: { parentTemplateId: row.id } });
    if (snapshots > 0) throw new ForkdError('ERR_CONFLICT', `template ${row.id} backs ${snapshots} snapshot(s): remove them first`, { detail: { snapshots } });
    const view = await this.view(row);
    await this.hostJobs.call(row.hostId, 'template.delete', { templateId: row.id });
    await this.db.template.delete({ where: { id: row.id } });
    await this.events.publish(templateEvent(row, 'delete'));
    return { ...view, state: 'deleted' };
  }
}

/** What a snapshot's view shows of its origin (its sealed env and the guest's ids stay in the row). */
function originView(origin: unknown): TemplateView['origin'] {
  const o = origin as { containerId?: string; name?: string; takenAt?: string } | null;
  return o?.containerId ? { containerId: o.containerId, name: o.name ?? '', takenAt: o.takenAt ?? '' } : null;
}

/**
 * A template's events go to its owner (its image's tenant). A shared base
 * template has no owner: its events carry SHARED_TEMPLATE_TENANT, which no
 * tenant has, so only admin keys (which see every tenant's) see them.
 */
export const SHARED_TEMPLATE_TENANT = 'shared';

function templateEvent(row: Row, action: 'create' | 'delete'): NewEvent {
  return {
    type: 'template', action, tenantId: templateOwner(row) ?? SHARED_TEMPLATE_TENANT,
    actor: { id: row.id, attributes: { hostId: row.hostId, vcpus: String(row.vcpus), memoryMib: String(row.memoryMib), ...(row.image ? { image: row.image.digest } : {}) } },
  };
}
