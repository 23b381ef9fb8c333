// Containers, each in its own VM: what the API decides (validation, image,
// quota, placement, rows) before hostd acts, and how rows follow hostd's
// answers. A create that fails leaves no Vm, Container or NetworkAddress row
// behind.
import { randomUUID } from 'node:crypto';
import { ForkdError } from '../contracts/errors.js';
import { NO_EVENTS, type EventPublisher } from '../contracts/events/index.js';
import { readStoredEnv, redactEnv, sealEnv, type SealedEnv } from '../contracts/secrets/index.js';
import type { BootMode, ContainerStatus, JobOutput, PortRequest, PublishedPort } from '../contracts/jobs.js';
import { CONTAINER_ACTIVE_STATES, containerStateFromHost, containerViewState, VM_ENDED_STATES } from '../contracts/lifecycle/index.js';
import type { PrismaClient } from './db/client.js';
import { destroyAfterTimeout } from './lifecycle/destroy-after-timeout.js';
import { containerStates, vmStates } from './lifecycle/state-writes.js';
import { journalTeardown } from './lifecycle/teardown.js';
import type { HostJobs } from './host-jobs.js';
import { randomMac } from './vm-mac.js';
import type { Images } from './images.js';
import { withAddressRetry, type NetworkAddresses } from './networks/addresses.js';
import type { Networks } from './networks/networks.js';
import type { Operations, ReportProgress } from './operations/operations.js';
import { view as operationView, within, type OperationView } from './operations/rules.js';
import { checkPortsFree, normalizePorts } from './ports.js';
import type { Templates } from './templates.js';
import { precheckVmQuota, reserveVmQuota } from './tenancy/quota.js';
import { checkVolumeRequests, type VolumeRequest } from './volumes/rules.js';
import type { Volumes } from './volumes/volumes.js';
import { oneRow, scopeWhere, type Owner } from './tenancy/scope.js';

export interface CreateContainerBody {
  image: string;
  command?: string[];
  entrypoint?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  name?: string;
  memoryMib?: number;
  cpus?: number;
  pids?: number;
  vm?: { vcpus?: number; memoryMib?: number };
  boot?: BootMode;
  ports?: PortRequest[];
  /** A network's name or id; `default` when absent. */
  network?: string;
  /** More names its peers on the network reach it by, beside its name (Docker's network aliases: compose's service names). */
  aliases?: string[];
  /** Named volumes to mount; a name that does not exist is created (docs/volumes.md). */
  volumes?: VolumeRequest[];
  /** A terminal for the main process (docs/interactive.md). */
  tty?: boolean;
  /** Keep the main process's stdin open for attach. */
  openStdin?: boolean;
  /** The terminal's first size, with tty. */
  consoleSize?: { rows: number; cols: number };
  /** false: the VM is made and the container created in it, not started (`start()` does). Default true. */
  start?: boolean;
  /** A pod's name or id: the container runs in the pod's VM (docs/pods.md) instead of a VM of its own. */
  pod?: string;
}

/** Creates and removes of containers in a pod (services/api/pods/pod-containers.ts). */
export interface PodContainerPort {
  create(tenantId: string, body: CreateContainerBody & { pod: string }, extra: { docker?: object }): Promise<OperationView>;
  remove(row: Row): Promise<void>;
}

/** A volume mounted into a container, as its row keeps it (Container.volumes). */
export interface ContainerVolume {
  volumeId: string;
  name: string;
  path: string;
  readOnly: boolean;
}

export interface ContainerView {
  id: string;
  /** The owning tenant's id (an admin listing every tenant tells them apart by it). */
  tenantId: string;
  name: string;
  image: string;
  command: string[];
  /** `KEY=<redacted>` unless the view was asked for with showEnv. */
  env: string[];
  state: string;
  exitCode: number | null;
  oomKilled: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  ports: PublishedPort[];
  network: { id: string; name: string; address: string } | null;
  volumes: ContainerVolume[];
  vm: { id: string; hostId: string; domainName: string; boot: string; vcpus: number; memoryMib: number; timings?: Record<string, number> };
  /** The pod it runs in; null: its own VM. */
  podId?: string | null;
}

export const DEFAULT_VM = { vcpus: 1, memoryMib: 256 };
/** A cold boot under TCG on a busy 2-core host takes a minute or more; give it room. */
const CREATE_TIMEOUT_FLOOR_MS = 600_000;

/**
 * How a create's percent splits: building the template (when this create
 * builds it) then the VM; a create with a ready template, or a cold boot,
 * spends the whole range on the VM.
 */
const CREATE_SLICE = { build: { from: 0, to: 70 }, afterBuild: { from: 70, to: 100 }, whole: { from: 0, to: 100 } } as const;

/** The rows a create made before answering, which its background half finishes or removes. */
interface Made { tenantId: string; vmId: string; containerId: string; hostId: string }

type Row = Awaited<ReturnType<Containers['row']>>;
const ROW_INCLUDE = { vm: { include: { networkAddress: { include: { network: true } } } }, image: true } as const;

export class Containers {
  /** Set by buildServices: a create with `pod`, and the remove of a pod's container, go there. */
  pods?: PodContainerPort;

  constructor(
    private readonly db: PrismaClient,
    private readonly images: Images,
    private readonly networks: Networks,
    private readonly addresses: NetworkAddresses,
    private readonly hostJobs: HostJobs,
    private readonly templates: Templates,
    private readonly jobTimeoutMs: number,
    /** Seals env in job payloads and rows (see docs/secrets.md). */
    private readonly secretKey: Buffer,
    private readonly operations: Operations,
    private readonly log: { warn(msg: string, fields?: Record<string, unknown>): void } = { warn: () => undefined },
    /** Absent: a create with `volumes` is refused. */
    private readonly volumes?: Volumes,
    /** `destroy` is published here (hostd publishes create, start and die where they happen). */
    private readonly events: EventPublisher = NO_EVENTS,
  ) {
    operations.onInterrupted('container.create', (id, hostId) => this.abandon(id, hostId));
  }

  /** `env` sealed for this container: what job payloads and the database carry instead of values. */
  sealEnv(containerId: string, env: readonly string[]): SealedEnv {
    return sealEnv(this.secretKey, containerId, env);
  }

  /** The one way to read a row's env column (sealed, or plain in rows from before sealing). */
  storedEnv(row: { id: string; env: unknown }): string[] {
    return readStoredEnv(this.secretKey, row.id, row.env);
  }

  /** By id or name, within `owner` (a tenant, or an admin's scope). */
  async row(owner: Owner, idOrName: string) {
    const byId = await this.db.container.findFirst({ where: { ...scopeWhere(owner), id: idOrName }, include: ROW_INCLUDE });
    if (byId) return byId;
    const rows = await this.db.container.findMany({ where: { ...scopeWhere(owner), name: idOrName }, include: ROW_INCLUDE, take: 100 });
    return oneRow(rows, 'container', idOrName, 'id', owner);
  }

  /** hostDown: the row's host misses its heartbeat, so an active container shows `lost` (docs/multi-host.md). */
  view(row: Row, timings?: Record<string, number>, opts: { showEnv?: boolean; hostDown?: boolean } = {}): ContainerView {
    const env = this.storedEnv(row);
    return {
      id: row.id,
      tenantId: row.tenantId,
      name: row.name,
      image: row.image.digest,
      command: row.command as string[],
      env: opts.showEnv ? env : redactEnv(env),
      state: containerViewState(row.state, opts.hostDown === true),
      exitCode: row.exitCode,
      oomKilled: row.oomKilled,
      createdAt: row.createdAt.toISOString(),
      startedAt: row.startedAt?.toISOString() ?? null,
      finishedAt: row.finishedAt?.toISOString() ?? null,
      ports: (row.ports as PublishedPort[] | null) ?? [],
      network: row.vm.networkAddress ? { id: row.vm.networkAddress.network.id, name: row.vm.networkAddress.network.name, address: row.vm.networkAddress.address } : null,
      volumes: (row.volumes as ContainerVolume[] | null) ?? [],
      vm: { id: row.vm.id, hostId: row.vm.hostId, domainName: row.vm.domainName, boot: row.vm.bootMode, vcpus: row.vm.vcpus, memoryMib: row.vm.memoryMib, ...(timings ? { timings } : {}) },
      podId: row.podId,
    };
  }

  /**
   * Checks the request and makes the rows now (validation, image, quota, name,
   * ports, network: a 4xx at once), then creates the VM in the background:
   * the answer is the operation to follow, whose target is the new container
   * and whose result is its view once running.
   */
  /** `docker`: the Docker API layer's settings, kept on the row (Container.docker) so they outlive the process. */
  async create(tenantId: string, body: CreateContainerBody, extra: { docker?: object } = {}): Promise<OperationView> {
    if (body.pod !== undefined) {
      if (!this.pods) throw new ForkdError('ERR_VALIDATION', 'this API serves no pods', { field: 'pod' });
      return this.pods.create(tenantId, { ...body, pod: body.pod }, extra);
    }
    const image = await this.images.resolve(tenantId, body.image);
    const config = (image.config ?? {}) as { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string; User?: string };
    const entrypoint = body.entrypoint ?? config.Entrypoint ?? [];
    const command = [...entrypoint, ...(body.command ?? (body.entrypoint ? [] : config.Cmd ?? []))];
    if (command.length === 0) throw new ForkdError('ERR_VALIDATION', 'command is required: the image has no Entrypoint or Cmd', { field: 'command' });
    const aliases = checkAliases(body.aliases);
    if (body.consoleSize && !body.tty) throw new ForkdError('ERR_VALIDATION', 'consoleSize needs tty: true', { field: 'consoleSize' });
    const vm = { vcpus: body.vm?.vcpus ?? DEFAULT_VM.vcpus, memoryMib: body.vm?.memoryMib ?? DEFAULT_VM.memoryMib };
    if (body.memoryMib !== undefined && body.memoryMib >= vm.memoryMib) {
      throw new ForkdError('ERR_VALIDATION', `memoryMib (${body.memoryMib}) must be below the VM's memory (vm.memoryMib = ${vm.memoryMib})`, { field: 'memoryMib' });
    }
    const env = mergeEnv(config.Env ?? [], body.env ?? []);
    const ports = normalizePorts(body.ports);
    const volumeRequests = checkVolumeRequests(body.volumes);
    if (volumeRequests.length > 0 && !this.volumes) throw new ForkdError('ERR_VALIDATION', 'this API serves no volumes', { field: 'volumes' });
    const network = await this.networks.resolve(tenantId, body.network ?? 'default');
    await precheckVmQuota(this.db, tenantId, vm.memoryMib); // early answer; the binding check is in the transaction below
    const host = await this.addresses.hostFor(network, { memoryMib: vm.memoryMib });
    await checkPortsFree(this.db, host.hostId, ports);
    // Before any row of the container: a name not yet a volume is made now (on the container's host), like `docker run -v`.
    const volumes = volumeRequests.length > 0 ? await this.volumes!.resolveForContainer(tenantId, host.hostId, volumeRequests) : [];
    const mounts: ContainerVolume[] = volumes.map((v) => ({ volumeId: v.id, name: v.name, path: v.path, readOnly: v.readOnly }));

    const vmId = randomUUID();
    const containerId = randomUUID();
    const sealedEnv = this.sealEnv(containerId, env);
    const name = body.name ?? `c-${containerId.slice(0, 8)}`;
    if (await this.db.container.findUnique({ where: { tenantId_name: { tenantId, name } } })) {
      throw new ForkdError('ERR_CONFLICT', `a container named ${JSON.stringify(name)} exists`, { field: 'name' });
    }
    // Forks are the default: the template for this image and size is built on first use (in the background).
    const boot: BootMode = body.boot ?? 'fork';
    const { operation, address } = await withAddressRetry(() => this.db.$transaction(async (tx) => {
      await reserveVmQuota(tx, tenantId, vm.memoryMib);
      await tx.vm.create({ data: { id: vmId, tenantId, hostId: host.hostId, templateId: null, domainName: `forkd-vm-${vmId}`, vcpus: vm.vcpus, memoryMib: vm.memoryMib, mac: randomMac(), bootMode: boot } });
      await tx.container.create({
        data: { id: containerId, tenantId, vmId, imageId: image.id, name, command, env: sealedEnv, workdir: body.workingDir ?? config.WorkingDir ?? null, ...(mounts.length > 0 ? { volumes: mounts as object[] } : {}), ...(extra.docker ? { docker: extra.docker } : {}) },
      });
      // One writer at a time: ERR_CONFLICT naming the holder rolls the whole create back.
      if (volumes.length > 0) await this.volumes!.claim(tx, tenantId, volumes, containerId, vmId);
      const address = await this.addresses.allocate(tx, network, vmId, host.hostId);
      const operation = await this.operations.start({ tenantId, hostId: host.hostId, kind: 'container.create', targetId: containerId, step: 'queued' }, tx);
      return { operation, address };
    }));

    const made: Made = { tenantId, vmId, containerId, hostId: host.hostId };
    this.operations.run(operation, (report) => this.finishCreate(made, report, async (templateId, bootMode, slice) => this.hostJobs.call(host.hostId, 'container.create', {
      tenantId, vmId, containerId, boot: bootMode, vm,
      image: await this.images.forJob(image),
      spec: {
        command, env: sealedEnv,
        ...(body.workingDir ?? config.WorkingDir ? { workingDir: body.workingDir ?? config.WorkingDir } : {}),
        ...(body.user ?? config.User ? { user: body.user ?? config.User } : {}),
        limits: { ...(body.memoryMib ? { memoryMib: body.memoryMib } : {}), ...(body.cpus ? { cpus: body.cpus } : {}), ...(body.pids ? { pids: body.pids } : {}) },
        ...(body.tty ? { tty: true, ...(body.consoleSize ? { rows: body.consoleSize.rows, cols: body.consoleSize.cols } : {}) } : {}),
        ...(body.openStdin ? { openStdin: true } : {}),
      },
      ports, name,
      network: this.addresses.attachment(network, address, [...new Set([name, ...aliases])]),
      ...(mounts.length > 0 ? { volumes: mounts } : {}),
      ...(templateId ? { templateId } : {}),
      ...(body.start === false ? { start: false } : {}),
    }, {
      timeoutMs: Math.max(this.jobTimeoutMs, CREATE_TIMEOUT_FLOOR_MS), jobId: operation.id,
      onProgress: (p) => report({ percent: within(slice, p.percent), ...(p.step ? { step: p.step } : {}) }),
    }), { image, vm, boot, explicitFork: body.boot === 'fork' }));
    return operationView(operation);
  }

  /**
   * The background half of create: the template (built on first use), then
   * the VM. Rows follow the outcome; a failure other than a timeout leaves no
   * row behind, as before the work moved out of the request.
   */
  private async finishCreate(
    made: Made,
    report: ReportProgress,
    createVm: (templateId: string | undefined, boot: BootMode, slice: { from: number; to: number }) => Promise<JobOutput<'container.create'>>,
    want: { image: { id: string; digest: string }; vm: { vcpus: number; memoryMib: number }; boot: BootMode; explicitFork: boolean },
  ): Promise<ContainerView> {
    const { vmId, containerId } = made;
    let boot = want.boot;
    let templateId: string | undefined;
    let built = false; // did this create build (or wait for) the template: then the VM gets the rest of the range
    try {
      if (boot !== 'cold') {
        report({ step: 'template' });
        try {
          templateId = await this.templates.forContainer(made.hostId, want.image, want.vm, (r) => { built = true; report(r); }, CREATE_SLICE.build);
        } catch (err) {
          if (want.explicitFork) throw err; // asked for explicitly: say why it cannot be had
          boot = 'cold';
        }
        await this.db.vm.update({ where: { id: vmId }, data: { templateId: templateId ?? null, bootMode: boot } });
      }
      report({ step: `creating VM on ${made.hostId}` });
      const result = await createVm(templateId, boot, built ? CREATE_SLICE.afterBuild : CREATE_SLICE.whole);
      const now = new Date();
      await this.db.$transaction(async (tx) => {
        await vmStates.write(tx, vmId, 'running', { startedAt: now, bootMode: result.vm.boot });
        await containerStates.write(tx, containerId, containerStateFromHost(result.status.state), { ...statusData(result.status), ports: result.ports as object[] });
      });
      return this.view(await this.row(made.tenantId, containerId), result.vm.timings);
    } catch (err) {
      const fe = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String(err));
      if (templateId && (fe.code === 'ERR_TEMPLATE_STALE' || fe.code === 'ERR_TEMPLATE_CORRUPT')) {
        // The host refused the template (changed host, damaged files): never restore it; rebuild next time.
        await this.templates.markUnusable(templateId, fe.message);
      }
      if (fe.code === 'ERR_TIMEOUT') {
        // hostd may still be building this VM: keep the rows, marked failed, and have the host destroy it when it can.
        await this.markFailed(vmId, containerId, made.hostId);
      } else {
        await this.db.$transaction([
          this.db.networkAddress.deleteMany({ where: { vmId } }),
          this.db.container.delete({ where: { id: containerId } }),
          this.db.vm.delete({ where: { id: vmId } }),
        ]).catch(() => {}); // best effort: the operation needs the job's error, not this one
      }
      throw fe;
    }
  }

  /**
   * A create that may still be going on the host (timed out, or lost with a
   * restarted API): the rows stay, marked failed, so they no longer count as
   * live; the address goes back (the next VM may get it before hostd has
   * destroyed this one) and the host is asked to destroy the VM if it made it.
   */
  private async markFailed(vmId: string, containerId: string, hostId: string | null): Promise<void> {
    await this.db.$transaction(async (tx) => {
      await tx.networkAddress.deleteMany({ where: { vmId } });
      await vmStates.write(tx, vmId, 'failed');
      await containerStates.write(tx, containerId, 'failed');
    }).catch((err: unknown) => this.log.warn('could not mark a failed create\'s rows failed (the reconciler will)', { vmId, containerId, error: String(err) }));
    // Not awaited: the host may be down; destroyAfterTimeout checks the outcome and the reconciler destroys what it misses.
    if (hostId) void destroyAfterTimeout(this.db, this.hostJobs, this.log, hostId, vmId);
  }

  /** A container.create lost with a restarted API: its rows say failed, not `created` forever. */
  private async abandon(containerId: string, hostId: string | null): Promise<void> {
    const row = await this.db.container.findUnique({ where: { id: containerId } });
    if (!row || row.state !== 'created') return;
    await this.markFailed(row.vmId, row.id, hostId);
  }

  async list(owner: Owner, opts: { all: boolean }): Promise<ContainerView[]> {
    const rows = await this.db.container.findMany({
      where: { ...scopeWhere(owner), ...(opts.all ? {} : { state: { in: [...CONTAINER_ACTIVE_STATES] } }) },
      include: ROW_INCLUDE,
      orderBy: { createdAt: 'desc' },
    });
    const down = await this.downHosts();
    const fresh = await this.refreshMany(rows, down);
    return fresh.map((r) => this.view(r, undefined, { hostDown: down.has(r.vm.hostId) }));
  }

  /** Hosts whose heartbeat is older than FORKD_HOST_DOWN_SEC: their containers show `lost` and are not asked. */
  async downHosts(): Promise<Set<string>> {
    const hosts = await this.hostJobs.listHosts().catch(() => []);
    return new Set(hosts.filter((h) => !h.up).map((h) => h.hostId));
  }

  /** refresh for a listing: one container.inspectMany per up host, not one job per container. */
  private async refreshMany(rows: Row[], down: Set<string>): Promise<Row[]> {
    const byHost = new Map<string, Row[]>();
    for (const r of rows) if (r.state === 'running' && !down.has(r.vm.hostId)) byHost.set(r.vm.hostId, [...(byHost.get(r.vm.hostId) ?? []), r]);
    const statuses = new Map<string, ContainerStatus>();
    await Promise.all([...byHost].map(async ([hostId, running]) => {
      try {
        const out = await this.hostJobs.call(hostId, 'container.inspectMany', { containers: running.map((r) => ({ vmId: r.vmId, containerId: r.id })) }, { timeoutMs: 15_000 });
        for (const s of out.statuses) if (s.status) statuses.set(s.containerId, s.status);
      } catch {
        // the host is slow or down: show what we last knew
      }
    }));
    return Promise.all(rows.map((r) => {
      const s = statuses.get(r.id);
      return s ? this.applyStatus(r, s) : r;
    }));
  }

  /** A running container's row, brought up to date from its host (it may have exited). */
  async refresh(row: Row): Promise<Row> {
    if (row.state !== 'running') return row;
    try {
      const status = await this.hostJobs.call(row.vm.hostId, 'container.inspect', { vmId: row.vmId, containerId: row.id }, { timeoutMs: 15_000 });
      return this.applyStatus(row, status);
    } catch {
      return row; // the host is slow or down: show what we last knew
    }
  }

  async applyStatus(row: Row, status: ContainerStatus): Promise<Row> {
    if (status.state === row.state && status.exitCode === row.exitCode) return row;
    const state = containerStateFromHost(status.state);
    await containerStates.write(this.db, row.id, state, statusData(status));
    return { ...row, ...statusData(status), state } as Row;
  }

  /** showEnv: env values in the clear (rows are the caller's tenant's only, so only the owner sees them). */
  async get(owner: Owner, id: string, opts: { showEnv?: boolean } = {}): Promise<ContainerView> {
    const row = await this.row(owner, id);
    // A down host would only time out: show its containers `lost` at once.
    if ((await this.downHosts()).has(row.vm.hostId)) return this.view(row, undefined, { ...opts, hostDown: true });
    return this.view(await this.refresh(row), undefined, opts);
  }

  /** Waits for exit, up to `timeoutMs` (the answer then still says `running`). */
  async wait(owner: Owner, id: string, timeoutMs: number): Promise<ContainerView> {
    let row = await this.row(owner, id);
    const deadline = Date.now() + timeoutMs;
    while (row.state === 'running' && Date.now() < deadline) {
      const slice = Math.min(30_000, deadline - Date.now());
      const status = await this.hostJobs.call(row.vm.hostId, 'container.wait', { vmId: row.vmId, containerId: row.id, timeoutMs: slice }, { timeoutMs: slice + 30_000 });
      row = await this.applyStatus(row, status);
    }
    return this.view(row);
  }

  /**
   * Starts a container created with `start: false`. ERR_CONFLICT while its
   * create is still going on (no VM yet) or when it has ended; one already
   * running is answered as it is.
   */
  async start(owner: Owner, id: string): Promise<ContainerView> {
    const row = await this.refresh(await this.row(owner, id));
    if (row.state === 'running') return this.view(row);
    if (row.state !== 'created' || row.vm.state !== 'running') {
      throw new ForkdError('ERR_CONFLICT', `container ${row.name} cannot be started: it is ${row.state === 'created' ? 'still being created' : row.state}`);
    }
    const status = await this.hostJobs.call(row.vm.hostId, 'container.start', { vmId: row.vmId, containerId: row.id, tenantId: row.tenantId, name: row.name, image: row.image.digest });
    return this.view(await this.applyStatus(row, status));
  }

  async signal(owner: Owner, id: string, signal: string): Promise<ContainerView> {
    const row = await this.running(owner, id);
    const status = await this.hostJobs.call(row.vm.hostId, 'container.signal', { vmId: row.vmId, containerId: row.id, signal });
    return this.view(await this.applyStatus(row, status));
  }

  async stop(owner: Owner, id: string, graceSec: number): Promise<ContainerView> {
    const row = await this.row(owner, id);
    if (row.state !== 'running') return this.view(row);
    const status = await this.hostJobs.call(row.vm.hostId, 'container.stop', { vmId: row.vmId, containerId: row.id, graceSec }, { timeoutMs: graceSec * 1000 + 60_000 });
    return this.view(await this.applyStatus(row, status));
  }

  /** Removes the container and its VM. A running one needs `force`. */
  async remove(owner: Owner, id: string, force: boolean): Promise<ContainerView> {
    // With force the container's state does not matter: no round trip to its VM to learn it.
    const row = force ? await this.row(owner, id) : await this.refresh(await this.row(owner, id));
    if (row.state === 'running' && !force) {
      throw new ForkdError('ERR_CONFLICT', `container ${row.name} is running: stop it first or remove it with force`, { field: 'force' });
    }
    if (row.podId && this.pods) {
      await this.pods.remove(row); // the pod and its VM stay
      return this.view({ ...row, state: 'removed' });
    }
    const destroyed = { image: row.image.digest, vmId: row.vmId };
    // With volumes, the old VM must have let go of their disks before another container may claim them: synchronous, as before.
    const hasVolumes = ((row.volumes as ContainerVolume[] | null) ?? []).length > 0;
    if (!hasVolumes && (row.vm.state === 'running' || row.vm.state === 'paused')) {
      // Answer once the VM is marked gone and its destroy journaled; hostd finishes it (lifecycle/teardown.ts).
      await this.db.$transaction(async (tx) => {
        await vmStates.write(tx, row.vmId, 'gone', { stoppedAt: new Date() });
        await tx.networkAddress.deleteMany({ where: { vmId: row.vmId } });
        await tx.container.delete({ where: { id: row.id } });
        await tx.operation.create({ data: { tenantId: row.tenantId, hostId: row.vm.hostId, kind: 'container.remove', targetId: row.id, state: 'succeeded', finishedAt: new Date() } });
      });
      await journalTeardown({ db: this.db, hostJobs: this.hostJobs, log: this.log }, row.vm.hostId, row.vmId);
      await this.events.publish({ type: 'container', action: 'destroy', tenantId: row.tenantId, actor: { id: row.id, name: row.name, attributes: destroyed } });
      return this.view({ ...row, state: 'removed' });
    }
    // A VM still being created or already ended, or one with volumes: destroyed before its rows go.
    await this.hostJobs.call(row.vm.hostId, 'vm.destroy', { vmId: row.vmId });
    await this.db.$transaction([
      this.db.networkAddress.deleteMany({ where: { vmId: row.vmId } }),
      this.db.container.delete({ where: { id: row.id } }),
      this.db.vm.delete({ where: { id: row.vmId } }),
      this.db.operation.create({ data: { tenantId: row.tenantId, hostId: row.vm.hostId, kind: 'container.remove', targetId: row.id, state: 'succeeded', finishedAt: new Date() } }),
    ]);
    await this.events.publish({ type: 'container', action: 'destroy', tenantId: row.tenantId, actor: { id: row.id, name: row.name, attributes: { image: row.image.digest, vmId: row.vmId } } });
    return this.view({ ...row, state: 'removed' });
  }

  async running(owner: Owner, id: string): Promise<Row> {
    const row = await this.refresh(await this.row(owner, id));
    if (row.state !== 'running') throw new ForkdError('ERR_CONFLICT', `container ${row.name} is not running (${row.state})`);
    return row;
  }
}

/** A status's fields besides its state (which goes through containerStates). */
function statusData(s: ContainerStatus) {
  return {
    exitCode: s.exitCode,
    oomKilled: s.oomKilled,
    startedAt: s.startedAt ? new Date(s.startedAt) : null,
    finishedAt: s.finishedAt ? new Date(s.finishedAt) : null,
  };
}

/** Image env first, request env overriding by key. */
export function mergeEnv(base: string[], extra: string[]): string[] {
  const out = new Map<string, string>();
  for (const kv of [...base, ...extra]) out.set(kv.slice(0, kv.indexOf('=')), kv);
  return [...out.values()];
}

/** A peer name as the guests' hosts files take it (hostd keeps at most 8 names per address). */
const ALIAS_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function checkAliases(aliases: unknown): string[] {
  if (aliases === undefined) return [];
  if (!Array.isArray(aliases) || aliases.length > 6 || !aliases.every((a) => typeof a === 'string' && ALIAS_RE.test(a))) {
    throw new ForkdError('ERR_VALIDATION', 'aliases must be at most 6 names of [A-Za-z0-9][A-Za-z0-9_.-] (63 characters at most)', { field: 'aliases' });
  }
  return aliases as string[];
}
