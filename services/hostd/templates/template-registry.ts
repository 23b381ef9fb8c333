// This host's templates: build (once per id, shared by concurrent callers),
// status, warm pool per template, forks into VmManager's registry, delete,
// and reloading what is on disk after a restart.
//
//   building ─▶ ready ─▶ stale | corrupt ─▶ building (rebuilt in place)
//
// A template is used only while `ready`: every fork re-reads nothing but
// re-checks the files the cheap way (sizes, the whole state file, sampled
// memory and disk) and the host's compatibility before anything starts, so a
// damaged template fails with ERR_TEMPLATE_CORRUPT and a changed host with
// ERR_TEMPLATE_STALE with no domain made.
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '../../../native/libvirt/index.js';
import type { Accel } from '../../contracts/config.js';
import { ForkdError } from '../../contracts/errors.js';
import type { PoolStatus, TemplateBuildInput, TemplateFacts, TemplateStatus } from '../../contracts/jobs.js';
import { hostTemplateLifecycle, type HostTemplateRecordState } from '../../contracts/lifecycle/index.js';
import { errorFields, type Logger } from '../../contracts/logger.js';
import { AgentClient } from '../agent/agent-client.js';
import { createForkPool, type ForkPool } from '../fork/fork-pool.js';
import { forkFromTemplate, openTemplate, type GuestJoin, type Template } from '../fork/fork.js';
import type { PoolMode } from '../fork/warm-pool.js';
import { buildTemplate, type GuestImageRef } from '../fork/template-builder.js';
import { isTemplateCompatible, TEMPLATE_FILES, verifyTemplateFiles, type HostInfo } from '../fork/template-manifest.js';
import { MACHINE_TYPE, type NetworkSpec } from '../vm/domain-xml.js';
import type { TapPort } from '../network/taps.js';
import { hostnameFor, type ManagedVm, type VmManager } from '../vm/vm-manager.js';
import { assertVmId, POOL_DOMAIN_PREFIX } from '../vm/vm-record.js';
import { claimPoolClone, registerFreshFork, type ForkedVmContext } from './forked-vm.js';
import { removeLeftovers } from './leftovers.js';
import { prepareTemplate } from './prepare.js';
import type { BlobCache } from '../blobs/blob-cache.js';
import { templateCacheKey, type TemplateCache } from './template-cache.js';
import {
  assertTemplateId, listTemplateIds, readTemplateRecord, templateDir, templateDirs, writeTemplateRecord,
  type TemplateDirs, type TemplateRecord,
} from './template-store.js';

/** hostd's record of a template's files; the table of legal moves lives in contracts. */
export type TemplateState = HostTemplateRecordState;

interface Entry {
  id: string;
  state: TemplateState;
  reason: string | null;
  template: Template | null;
  record: TemplateRecord | null;
  pool: ForkPool<AgentClient> | null;
}

export interface TemplateRegistryOptions {
  conn: Connection;
  hostId: string;
  dataDir: string;
  accel: Accel;
  qemuVersion: string;
  guest: GuestImageRef;
  vms: VmManager;
  log: Logger;
  /** Opens app containers' env, sealed in template.build jobs (secrets/env.ts). */
  secretKey: Buffer;
  /** Host side of the templates' NIC (hostd: FORKD_NETWORK, as VmManager's); templates built with another are stale. Default none. */
  network?: NetworkSpec | null;
  /** Makes and removes the taps of template builds, pool shells and fresh forks (needed with `network`). */
  taps?: TapPort;
  /** Agent deadlines; default 180 s for a build's boot and 60 s for a fork under TCG, a third of that under KVM. */
  buildReadyTimeoutMs?: number;
  forkAgentTimeoutMs?: number;
  /** Free host memory the warm pools leave alone (MiB). Default 1 GiB + 10 % of the host's memory. */
  reserveMib?: number;
  freeMemoryMib?: () => number;
  /**
   * FORKD_POOL_MODE (hostd's default: 'ready'; absent here: 'shell').
   * 'shell': pool clones wait in -incoming defer.
   * 'ready': they are also resumed and their agent answered ahead of time, so a
   * take only sets the identity. Only with a private NIC (user-mode or none):
   * an idle ready clone runs with its template's guest MAC and address.
   */
  poolMode?: PoolMode;
  /** FORKD_TEMPLATE_CACHE_DIR: image templates are copied from and to it (template-cache.ts). */
  cache?: TemplateCache | null;
  /** Finds or fetches the image layers a build sends into its guest (blobs/blob-cache.ts); absent: the job's paths. */
  blobs?: BlobCache;
}

export interface ForkRequest {
  vmId: string;
  templateId: string;
  usePool: boolean;
  /** Settles when the request this fork serves is done (its container started): the pool's refill waits for it (warm-pool.ts). */
  refillAfter?: Promise<unknown>;
  /**
   * The VM's tenant network, joined as part of the fork: its address and peers
   * in the fork's own identity.set, its tap attached (FinishOptions.join).
   */
  join?: GuestJoin;
}

const VM_ID_FOR_FORK_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;

export class TemplateRegistry {
  readonly dirs: TemplateDirs;
  private readonly entries = new Map<string, Entry>();
  private readonly builds = new Map<string, Promise<TemplateFacts>>();
  private readonly forks = new Map<string, Promise<ManagedVm>>();
  /** Every pool not yet drained, also one being drained by a resize or a rebuild: close() waits for each. */
  private readonly pools = new Set<ForkPool<AgentClient>>();
  /** Set by close(): no pool starts after it (a build or resize that finishes while hostd stops). */
  private closed = false;
  private readonly host: HostInfo;

  constructor(private readonly opts: TemplateRegistryOptions) {
    this.dirs = templateDirs(opts.dataDir);
    this.host = { accel: opts.accel, qemuVersion: opts.qemuVersion, machine: MACHINE_TYPE, network: opts.network ?? null };
  }

  /**
   * On hostd start, before VmManager.adopt: destroys pool shells and template
   * builds an earlier hostd left, removes half-built template directories,
   * checks the templates on disk and refills their pools.
   */
  async load(): Promise<void> {
    const log = this.opts.log;
    await removeLeftovers(this.opts.conn, this.opts.hostId, this.dirs.pool, log, this.opts.taps);
    await mkdir(this.dirs.pool, { recursive: true, mode: 0o755 });
    for (const id of await listTemplateIds(this.dirs)) {
      const entry = await this.check(id);
      if (!entry) {
        log.warn('removing a template directory without a manifest (a build that did not finish)', { template: id });
        await rm(templateDir(this.dirs, id), { recursive: true, force: true });
        continue;
      }
      if (entry.state === 'ready') this.startPool(entry, entry.record?.poolSize ?? 0);
      log.info('template found on disk', { template: id, state: entry.state, reason: entry.reason, pool: entry.record?.poolSize ?? 0 });
    }
  }

  /** Builds the template unless a ready one exists; concurrent calls for one id share one build. */
  build(input: TemplateBuildInput, progress: (step: string) => void = () => undefined): Promise<TemplateFacts> {
    assertTemplateId(input.templateId);
    for (const k of ['vcpus', 'memoryMib'] as const) {
      if (!Number.isInteger(input[k]) || input[k] < 1) throw new ForkdError('ERR_VALIDATION', `${k} must be a whole number ≥ 1`, { field: k });
    }
    if (!Number.isInteger(input.poolSize) || input.poolSize < 0) throw new ForkdError('ERR_VALIDATION', 'poolSize must be a whole number ≥ 0', { field: 'poolSize' });
    if (input.containers.length > 0 && !input.image) throw new ForkdError('ERR_VALIDATION', 'an app template needs an image', { field: 'image' });
    const running = this.builds.get(input.templateId);
    if (running) return running;
    const p = this.buildOnce(input, progress).finally(() => this.builds.delete(input.templateId));
    this.builds.set(input.templateId, p);
    return p;
  }

  private async buildOnce(input: TemplateBuildInput, progress: (step: string) => void): Promise<TemplateFacts> {
    const id = input.templateId;
    const log = this.opts.log.child({ template: id });
    const existing = await this.check(id);
    if (existing?.state === 'ready') {
      if ((existing.record?.poolSize ?? 0) !== input.poolSize) await this.resizePool(existing, input.poolSize);
      log.info('template already built');
      return this.facts(existing);
    }
    // Stale, corrupt or half-built: rebuilt in place.
    const old = this.entries.get(id);
    await old?.pool?.drain();
    const entry: Entry = { id, state: 'building', reason: null, template: null, record: null, pool: null };
    this.entries.set(id, entry);
    const dir = templateDir(this.dirs, id);
    await rm(dir, { recursive: true, force: true });
    const tmo = this.opts.buildReadyTimeoutMs ?? (this.opts.accel === 'kvm' ? 60_000 : 180_000);
    const cacheKey = this.opts.cache ? templateCacheKey(input, { guest: this.opts.guest, accel: this.opts.accel, qemuVersion: this.opts.qemuVersion, machine: MACHINE_TYPE, network: this.opts.network ?? null }) : null;
    try {
      const restored = cacheKey ? await this.restoreFromCache(cacheKey, input, dir, log) : null;
      if (restored) {
        progress('restored-from-cache');
        return await this.finishBuild(entry, input, restored.template, restored.ms);
      }
      const built = await buildTemplate<AgentClient>({
        conn: this.opts.conn,
        image: this.opts.guest,
        vcpus: input.vcpus,
        memoryMib: input.memoryMib,
        accel: this.opts.accel,
        dir,
        id,
        hostId: this.opts.hostId,
        qemuVersion: this.opts.qemuVersion,
        ...(this.opts.network ? { network: this.opts.network } : {}),
        ...(this.opts.taps ? { taps: this.opts.taps } : {}),
        agent: (p) => new AgentClient(p, { log: (msg, fields) => log.debug(msg, fields) }),
        prepare: (agent) => prepareTemplate(agent, input, log, this.opts.secretKey, this.opts.blobs),
        readyTimeoutMs: tmo,
        onProgress: (step, fields) => {
          log.info(`template build: ${step}`, fields ?? {});
          progress(step);
        },
      });
      log.info('template built', { timings: built.timings });
      if (cacheKey) await this.opts.cache!.store(cacheKey, dir).catch((err) => log.warn('template cache: could not keep a copy', errorFields(err)));
      return await this.finishBuild(entry, input, { dir: built.dir, manifest: built.manifest }, built.timings.totalMs);
    } catch (err) {
      this.entries.delete(id);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** The built (or restored) template in `dir` becomes ready, with its record and pool. */
  private async finishBuild(entry: Entry, input: TemplateBuildInput, template: Template, buildMs: number): Promise<TemplateFacts> {
    const record: TemplateRecord = {
      templateId: entry.id,
      imageId: input.image?.id ?? null,
      containers: input.containers.map((c) => c.containerId),
      poolSize: input.poolSize,
      buildMs,
    };
    await writeTemplateRecord(template.dir, record);
    entry.template = template;
    entry.record = record;
    this.move(entry, 'ready');
    this.startPool(entry, input.poolSize);
    return this.facts(entry);
  }

  /** A copy of the same build from the template cache, checked like any template; null (and nothing left in `dir`) when there is none or it fails the check. */
  private async restoreFromCache(key: string, input: TemplateBuildInput, dir: string, log: Logger): Promise<{ ms: number; template: Template } | null> {
    const t0 = Date.now();
    try {
      if (!(await this.opts.cache!.restore(key, dir, input.templateId, this.opts.guest))) return null;
      const template = await openTemplate(dir, this.host, 'full');
      log.info('template restored from the template cache', { key, ms: Date.now() - t0 });
      return { ms: Date.now() - t0, template };
    } catch (err) {
      log.warn('template cache: entry unusable, building instead', { key, ...errorFields(err) });
      await rm(dir, { recursive: true, force: true });
      return null;
    }
  }

  /** Reads the template from disk and checks it (fast); null when there is no finished one. Updates the cache. */
  private async check(id: string): Promise<Entry | null> {
    const cached = this.entries.get(id);
    if (cached?.state === 'building') return cached;
    const dir = templateDir(this.dirs, id);
    if (!existsSync(join(dir, TEMPLATE_FILES.manifest)) && (!cached || !existsSync(dir))) {
      // Never finished (or removed behind our back): nothing to use.
      if (cached) await this.forget(cached, 'its files are gone');
      return null;
    }
    let template: Template;
    try {
      if (cached?.template) {
        template = cached.template;
        const c = isTemplateCompatible(template.manifest, this.host);
        if (!c.ok) throw new ForkdError('ERR_TEMPLATE_STALE', `template ${id} is stale: ${c.reason}`, { detail: { templateId: id } });
        await verifyTemplateFiles(dir, template.manifest, 'fast');
      } else {
        template = await openTemplate(dir, this.host, 'fast');
      }
    } catch (err) {
      const state: TemplateState = err instanceof ForkdError && err.code === 'ERR_TEMPLATE_STALE' ? 'stale' : 'corrupt';
      const entry = cached ?? { id, state, reason: null, template: null, record: await readTemplateRecord(dir), pool: null };
      if (entry.state !== state) this.move(entry, state);
      entry.reason = (err as Error).message;
      entry.template = null;
      if (entry.pool) {
        this.opts.log.warn('template unusable: draining its warm pool', { template: id, state, reason: entry.reason });
        const pool = entry.pool;
        entry.pool = null;
        await pool.drain();
      }
      this.entries.set(id, entry);
      return entry;
    }
    const entry = cached ?? { id, state: 'ready' as TemplateState, reason: null, template, record: await readTemplateRecord(dir), pool: null };
    if (entry.state !== 'ready') this.move(entry, 'ready');
    entry.reason = null;
    entry.template = template;
    this.entries.set(id, entry);
    return entry;
  }

  private async forget(entry: Entry, why: string): Promise<void> {
    this.entries.delete(entry.id);
    if (entry.pool) {
      this.opts.log.warn(`template ${why}: draining its warm pool`, { template: entry.id });
      const pool = entry.pool;
      entry.pool = null;
      await pool.drain();
    }
  }

  /** Ids of the templates this host holds (the blob cache keeps the layers they took). */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  async status(id: string): Promise<TemplateStatus> {
    assertTemplateId(id);
    const entry = await this.check(id);
    if (!entry) return { templateId: id, state: 'missing', reason: 'no template with this id on this host', pool: emptyPool(0) };
    if (entry.state === 'building') return { templateId: id, state: 'missing', reason: 'building', pool: emptyPool(0) };
    return { templateId: id, state: entry.state, reason: entry.reason, pool: this.poolStatus(entry) };
  }

  /** The verified template, for a fork: ERR_NOT_FOUND, ERR_TEMPLATE_STALE or ERR_TEMPLATE_CORRUPT otherwise. */
  async open(id: string): Promise<Template> {
    assertTemplateId(id);
    const entry = await this.check(id);
    if (!entry || entry.state === 'building') {
      throw new ForkdError('ERR_NOT_FOUND', `template ${id} is ${entry ? 'still being built' : 'not on this host'}`, { detail: { templateId: id } });
    }
    if (entry.state === 'stale') throw new ForkdError('ERR_TEMPLATE_STALE', entry.reason ?? `template ${id} is stale`, { detail: { templateId: id } });
    if (entry.state === 'corrupt' || !entry.template) throw new ForkdError('ERR_TEMPLATE_CORRUPT', entry.reason ?? `template ${id} is corrupt`, { detail: { templateId: id } });
    return entry.template;
  }

  async setPoolSize(id: string, size: number): Promise<TemplateStatus> {
    if (!Number.isInteger(size) || size < 0) throw new ForkdError('ERR_VALIDATION', 'size must be a whole number ≥ 0', { field: 'size' });
    await this.open(id);
    await this.resizePool(this.entries.get(id)!, size);
    return this.status(id);
  }

  /** Drains the pool and removes the files. False when there was no such template. */
  async delete(id: string): Promise<boolean> {
    assertTemplateId(id);
    if (this.builds.has(id)) throw new ForkdError('ERR_CONFLICT', `template ${id} is being built`, { detail: { templateId: id } });
    const entry = this.entries.get(id);
    this.entries.delete(id);
    await entry?.pool?.drain();
    const dir = templateDir(this.dirs, id);
    const existed = entry !== undefined || (await listTemplateIds(this.dirs)).includes(id);
    await rm(dir, { recursive: true, force: true });
    if (existed) this.opts.log.info('template deleted', { template: id });
    return existed;
  }

  /**
   * A VM forked from the template, registered with VmManager: a warm-pool
   * shell when `usePool` and one is ready (boot 'pool'), a fresh fork
   * otherwise (boot 'fork'). A retry for a VM that already runs returns it.
   */
  fork(req: ForkRequest): Promise<ManagedVm> {
    assertVmId(req.vmId);
    if (!VM_ID_FOR_FORK_RE.test(req.vmId)) {
      throw new ForkdError('ERR_VALIDATION', `a forked VM's id must be 1–40 of a-z 0-9 - (got ${JSON.stringify(req.vmId)})`, { field: 'vmId' });
    }
    const running = this.forks.get(req.vmId);
    if (running) return running;
    const p = this.forkOnce(req).finally(() => this.forks.delete(req.vmId));
    this.forks.set(req.vmId, p);
    return p;
  }

  get vms(): VmManager {
    return this.opts.vms;
  }

  /** The container image a ready template's guest holds already (imported before its snapshot, prepare.ts); null: none or not known here. */
  imageOf(templateId: string): string | null {
    const e = this.entries.get(templateId);
    return e?.state === 'ready' ? (e.record?.imageId ?? null) : null;
  }

  private async forkOnce(req: ForkRequest): Promise<ManagedVm> {
    const t0 = Date.now();
    const existing = this.opts.vms.find(req.vmId);
    if (existing) {
      if (existing.state === 'running' && existing.record.boot !== 'cold') return existing;
      throw new ForkdError('ERR_CONFLICT', `VM ${req.vmId} already exists on this host (${existing.state}, boot ${existing.record.boot})`, { detail: { vmId: req.vmId } });
    }
    const template = await this.open(req.templateId);
    const verifyMs = Date.now() - t0;
    const entry = this.entries.get(req.templateId)!;
    const m = template.manifest;
    const info = { vmId: req.vmId, templateId: req.templateId, memoryMib: m.memoryMib, vcpus: m.vcpus };
    const ctx = this.forkContext();
    const log = this.opts.log.child({ vm: req.vmId, template: req.templateId });
    let vm: ManagedVm | null = null;
    if (req.usePool && entry.pool && entry.pool.stats().ready > 0) {
      try {
        const clone = await entry.pool.take({ hostname: hostnameFor(req.vmId), ...(req.join ? { join: req.join } : {}) }, req.refillAfter);
        vm = await claimPoolClone(ctx, clone, info);
      } catch (err) {
        log.warn('a warm-pool shell failed to become a VM: forking fresh instead', errorFields(err));
      }
    }
    if (!vm) {
      const forked = await forkFromTemplate<AgentClient>({
        conn: this.opts.conn,
        template,
        verify: 'none',
        runDir: this.opts.vms.vmsDir,
        hostId: this.opts.hostId,
        id: req.vmId,
        hostname: hostnameFor(req.vmId),
        ...(this.opts.taps ? { taps: this.opts.taps } : {}),
        agent: (p) => new AgentClient(p, { log: (msg, fields) => log.debug(msg, fields) }),
        agentTimeoutMs: ctx.agentTimeoutMs,
        ...(req.join ? { join: req.join } : {}),
      });
      vm = await registerFreshFork(ctx, forked, info);
    }
    vm.record.timings['verifyMs'] = verifyMs;
    vm.record.timings['forkTotalMs'] = Date.now() - t0;
    await this.opts.vms.saveRecord(vm).catch((err) => log.warn('could not update vm.json with timings', errorFields(err)));
    log.info('VM forked', { boot: vm.record.boot, timings: vm.record.timings });
    return vm;
  }

  /**
   * Drains every pool and starts none after (hostd stops; a shell has no
   * identity and cannot be adopted, so the next hostd would only destroy it).
   * Waits for drains already under way elsewhere. Forked VMs keep running. Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.entries.values()) e.pool = null;
    const pools = [...this.pools];
    if (pools.length > 0) this.opts.log.info('hostd stopping: destroying warm-pool shells', { pools: pools.length });
    await Promise.all(pools.map((p) => p.drain().catch((err) => this.opts.log.warn('draining a warm pool failed', errorFields(err)))));
  }

  facts(entry: Entry): TemplateFacts {
    const m = entry.template!.manifest;
    return {
      templateId: entry.id,
      accel: m.accel,
      qemuVersion: m.qemuVersion,
      machineType: m.machine,
      formatVersion: m.formatVersion,
      files: { memory: { bytes: m.files.memory.size }, state: { bytes: m.files.state.size }, disk: { bytes: m.files.disk.size } },
      buildMs: entry.record?.buildMs ?? 0,
      pool: this.poolStatus(entry),
    };
  }

  private forkContext(): ForkedVmContext {
    return {
      vms: this.opts.vms,
      hostId: this.opts.hostId,
      log: this.opts.log,
      agentTimeoutMs: this.opts.forkAgentTimeoutMs ?? (this.opts.accel === 'kvm' ? 20_000 : 60_000),
    };
  }

  /** Every template's pool counters, for metrics (one row per template with a pool). */
  poolStats(): Array<{ templateId: string; target: number; ready: number; starting: number; taken: number; coldForks: number; startFailures: number }> {
    return [...this.entries.values()].filter((e) => e.pool).map((e) => {
      const s = e.pool!.stats();
      return { templateId: e.id, target: e.record?.poolSize ?? 0, ready: s.ready, starting: s.starting, taken: s.taken, coldForks: s.coldForks, startFailures: s.startFailures };
    });
  }

  private poolStatus(entry: Entry): PoolStatus {
    const target = entry.record?.poolSize ?? 0;
    if (!entry.pool) return emptyPool(entry.state === 'ready' ? target : 0);
    const s = entry.pool.stats();
    return { target, ready: s.ready, starting: s.starting };
  }

  private move(entry: Entry, to: TemplateState): void {
    entry.state = hostTemplateLifecycle.transition(entry.state, to, entry.id);
  }

  private startPool(entry: Entry, size: number): void {
    if (size === 0 || !entry.template) return;
    const log = this.opts.log.child({ template: entry.id, part: 'pool' });
    if (this.closed) {
      log.info('not starting the warm pool: hostd is stopping (the next start refills it)', { size });
      return;
    }
    const mode = this.poolMode();
    const pool = createForkPool<AgentClient>({
      conn: this.opts.conn,
      template: entry.template,
      runDir: this.dirs.pool,
      hostId: this.opts.hostId,
      namePrefix: POOL_DOMAIN_PREFIX,
      kind: 'pool',
      ...(this.opts.taps ? { taps: this.opts.taps } : {}),
      size,
      reserveMib: this.opts.reserveMib ?? Math.round(1024 + totalmem() / (1024 * 1024) / 10),
      freeMemoryMib: this.opts.freeMemoryMib ?? (() => freemem() / (1024 * 1024)),
      log: (msg, fields) => (/failed/.test(msg) ? log.warn(msg, fields ?? {}) : log.info(msg, fields ?? {})),
      mode,
      ...(mode === 'ready'
        ? {
            agent: (p: string) => new AgentClient(p, { log: (msg, fields) => log.debug(msg, fields) }),
            agentTimeoutMs: this.forkContext().agentTimeoutMs,
            // A take's container start is then not the clone's first (fork-pool.ts).
            rehearsal: { image: entry.record?.imageId ?? null },
            // A container held ahead for the take's create; not where the template's own containers
            // already run in every clone (a desktop, a snapshot): no create comes to take it.
            holdContainer: (entry.record?.containers.length ?? 0) === 0,
          }
        : {}),
    });
    for (const p of this.pools) if (p.state === 'drained') this.pools.delete(p);
    this.pools.add(pool);
    entry.pool = pool;
  }

  /**
   * The pool mode in effect. Ready clones idle with their tap detached (down,
   * on no network), so their template's MAC is never seen on a bridge; a take
   * gives the identity first and attaches the network after.
   */
  private poolMode(): PoolMode {
    return this.opts.poolMode ?? 'shell';
  }

  private async resizePool(entry: Entry, size: number): Promise<void> {
    const old = entry.pool;
    entry.pool = null;
    await old?.drain();
    if (entry.record) {
      entry.record = { ...entry.record, poolSize: size };
      await writeTemplateRecord(templateDir(this.dirs, entry.id), entry.record);
    }
    this.startPool(entry, size);
  }
}

function emptyPool(target: number): PoolStatus {
  return { target, ready: 0, starting: 0 };
}
