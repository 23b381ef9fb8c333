// Keeps the database in step with what the hosts really run: on API start and
// every FORKD_RECONCILE_INTERVAL_MS, each up host's `vm.list` is compared with
// its Vm rows (diff.ts decides; this file acts). A VM lost behind forkd's back
// gives back its tenant's quota, its host's placement weight and its network
// address; a VM a host runs with no live row is destroyed. A host that does
// not answer is skipped until the next round; a destroy that fails is retried
// then too.
import { errorFields } from '../../contracts/logger.js';
import { CONTAINER_ACTIVE_STATES, CONTAINER_STATE_WHEN_VM_LOST, IllegalTransitionError, VM_LIVE_STATES, type VmState } from '../../contracts/lifecycle/index.js';
import type { PrismaClient } from '../db/client.js';
import type { HostJobs } from '../host-jobs.js';
import { containerStates, vmStates } from '../lifecycle/state-writes.js';
import { diffHost, type ReconcileAction } from './diff.js';

export interface ReconcilerLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface ReconcilerOptions {
  /** How long a VM may run on a host without a live row before it is destroyed. */
  orphanGraceMs: number;
  /** Deadline for one host's vm.list and for each destroy. */
  jobTimeoutMs?: number;
}

export interface HostReport {
  hostId: string;
  /** Why the host was skipped (it did not answer vm.list). */
  error?: string;
  lost: string[];
  destroyed: string[];
  /** Orphans whose destroy failed; retried next round. */
  destroyFailed: string[];
  /** Orphans still inside their grace period. */
  waiting: string[];
}

export interface ReconcileReport {
  at: string;
  hosts: HostReport[];
}

const DEFAULT_JOB_TIMEOUT_MS = 30_000;

export class Reconciler {
  private readonly orphanSince = new Map<string, Map<string, number>>();
  private running: Promise<ReconcileReport> | null = null;

  constructor(
    private readonly db: PrismaClient,
    private readonly hostJobs: Pick<HostJobs, 'listHosts' | 'call'>,
    private readonly log: ReconcilerLog,
    private readonly opts: ReconcilerOptions,
  ) {}

  /** One round over every up host. Concurrent callers share the round in progress. */
  reconcile(): Promise<ReconcileReport> {
    this.running ??= this.round().finally(() => { this.running = null; });
    return this.running;
  }

  private async round(): Promise<ReconcileReport> {
    const at = new Date().toISOString();
    const hosts = (await this.hostJobs.listHosts()).filter((h) => h.up);
    const reports: HostReport[] = [];
    for (const h of hosts) reports.push(await this.reconcileHost(h.hostId));
    return { at, hosts: reports };
  }

  private async reconcileHost(hostId: string): Promise<HostReport> {
    const report: HostReport = { hostId, lost: [], destroyed: [], destroyFailed: [], waiting: [] };
    const timeoutMs = this.opts.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
    // The list first, the rows after: every VM the list shows had its row written before hostd made it.
    const listedAt = Date.now();
    let listed;
    try {
      listed = (await this.hostJobs.call(hostId, 'vm.list', {}, { timeoutMs })).vms;
    } catch (err) {
      report.error = (err as Error).message;
      this.log.warn('reconcile: host did not list its VMs; skipped this round', { host: hostId, ...errorFields(err) });
      return report;
    }
    const rows = await this.db.vm.findMany({
      where: { hostId, OR: [{ state: { in: [...VM_LIVE_STATES] } }, { id: { in: listed.map((v) => v.vmId) } }] },
      select: { id: true, state: true, updatedAt: true },
    });
    const diff = diffHost({
      hostId, listedAt, now: Date.now(), orphanGraceMs: this.opts.orphanGraceMs,
      rows: rows.map((r) => ({ ...r, state: r.state as VmState })),
      hostVms: listed,
      orphanSince: this.orphanSince.get(hostId) ?? new Map(),
    });
    const acted = new Set<string>();
    for (const action of diff.actions) {
      acted.add(action.vmId);
      if (action.kind === 'mark-lost') await this.markLost(hostId, action, report);
      else await this.destroyOrphan(hostId, action, report, diff.orphanSince);
    }
    for (const vmId of diff.orphanSince.keys()) if (!acted.has(vmId)) report.waiting.push(vmId);
    this.orphanSince.set(hostId, diff.orphanSince);
    return report;
  }

  private async markLost(hostId: string, action: Extract<ReconcileAction, { kind: 'mark-lost' }>, report: HostReport): Promise<void> {
    const now = new Date();
    try {
      const containers = await this.db.$transaction(async (tx) => {
        await vmStates.write(tx, action.vmId, 'lost', { stoppedAt: now });
        const inside = await tx.container.findMany({ where: { vmId: action.vmId, state: { in: [...CONTAINER_ACTIVE_STATES] } }, select: { id: true } });
        for (const c of inside) await containerStates.write(tx, c.id, CONTAINER_STATE_WHEN_VM_LOST, { finishedAt: now });
        // The address, quota and placement weight follow the state: only live VMs hold them.
        await tx.networkAddress.deleteMany({ where: { vmId: action.vmId } });
        const vm = await tx.vm.findUniqueOrThrow({ where: { id: action.vmId }, select: { tenantId: true } });
        // The record of why, where the tenant can read it (GET operations by target).
        await tx.operation.create({
          data: {
            tenantId: vm.tenantId, hostId, kind: 'vm.lost', targetId: action.vmId, state: 'succeeded', finishedAt: now, progress: 100,
            result: { reason: action.reason, from: action.from, containers: inside.map((c) => c.id) },
          },
        });
        return inside.map((c) => c.id);
      });
      report.lost.push(action.vmId);
      this.log.warn('reconcile: VM lost behind forkd\'s back; row marked lost, its containers failed, its address and quota released', {
        host: hostId, vm: action.vmId, was: action.from, containers, reason: action.reason,
      });
    } catch (err) {
      // Moved on meanwhile (removed, stopped by its owner): the next round looks again.
      if (err instanceof IllegalTransitionError || (err as { code?: string }).code === 'ERR_NOT_FOUND') return;
      this.log.warn('reconcile: marking a VM lost failed; retried next round', { host: hostId, vm: action.vmId, ...errorFields(err) });
    }
  }

  private async destroyOrphan(hostId: string, action: Extract<ReconcileAction, { kind: 'destroy-orphan' }>, report: HostReport, orphanSince: Map<string, number>): Promise<void> {
    try {
      await this.hostJobs.call(hostId, 'vm.destroy', { vmId: action.vmId }, { timeoutMs: this.opts.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS });
    } catch (err) {
      report.destroyFailed.push(action.vmId);
      this.log.warn('reconcile: destroying an orphan VM failed; retried next round', { host: hostId, vm: action.vmId, domain: action.domainName, reason: action.reason, ...errorFields(err) });
      return;
    }
    orphanSince.delete(action.vmId);
    report.destroyed.push(action.vmId);
    this.log.warn('reconcile: destroyed a VM its host ran without a live row', { host: hostId, vm: action.vmId, domain: action.domainName, reason: action.reason });
    // A failed create's row is now truly over; a lost row keeps saying what happened.
    const row = await this.db.vm.findUnique({ where: { id: action.vmId }, select: { state: true } });
    if (row?.state === 'failed') await vmStates.write(this.db, action.vmId, 'gone', { stoppedAt: new Date() }).catch(() => undefined); // removed meanwhile: nothing to record
  }
}

/**
 * Runs `reconcile` now and every `intervalMs` (0: only now) until stopped;
 * never throws. The stop waits for a round in progress (it uses the database).
 */
export function startReconcileLoop(reconciler: Reconciler, intervalMs: number, log: ReconcilerLog): () => Promise<void> {
  let last: Promise<unknown> = Promise.resolve();
  const once = () => { last = reconciler.reconcile().catch((err: unknown) => log.warn('reconcile round failed', errorFields(err))); };
  once();
  const timer = intervalMs > 0 ? setInterval(once, intervalMs) : undefined;
  timer?.unref();
  return async () => {
    if (timer) clearInterval(timer);
    await last;
  };
}
