// Operations: long work (building a template, creating a container that may
// need one) that the API answers at once (HTTP 202) and finishes after the
// response, in this process, not tied to the request: a client that hangs up
// cancels nothing. Each one is an Operation row a client polls or long-polls;
// progress from hostd's jobs lands in it as the work goes.
//
// Each operation records which API process runs it (`input.runner`, stable
// across restarts: host name and listen port). At start an API marks the ones
// it left unfinished (it restarted mid-work) as failed, ERR_INTERRUPTED, and
// lets the owning resource mark its half-made rows failed too; other API
// processes' operations sharing the database are left alone.
import { scopeWhere, type Owner } from '../tenancy/scope.js';
import { hostname } from 'node:os';
import { ForkdError } from '../../contracts/errors.js';
import type { Logger } from '../../contracts/logger.js';
import type { PrismaClient } from '../db/client.js';
import { OperationChanges } from './changes.js';
import { changed, checkTransition, isTerminal, mergeProgress, view, type OperationRow, type OperationView, type Progress } from './rules.js';

/** Reports progress from inside an operation's work; never throws, never waits. */
export type ReportProgress = (report: { percent?: number; step?: string }) => void;

/** What a resource does with its half-made rows when its operation was lost. */
export type InterruptedHandler = (targetId: string, hostId: string | null) => Promise<void>;

type OperationDb = Pick<PrismaClient, 'operation'>;

/** This API process's name for its operations: the same after a restart, different for another API on another host or port. */
export function runnerId(listenPort: number): string {
  return `${hostname()}:${listenPort}`;
}

/** How often a long-poll re-reads the row even without a signal from this process. */
const REREAD_MS = 2_000;
/** The newest operations `GET /v1/operations` lists. */
export const LIST_LIMIT = 50;

export class Operations {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly interruptedHandlers = new Map<string, InterruptedHandler>();

  constructor(
    private readonly db: OperationDb,
    private readonly log: Pick<Logger, 'warn'>,
    /** Which API process this is, the same after a restart (see runnerId()). */
    private readonly runner: string,
    private readonly changes = new OperationChanges(),
  ) {}

  /**
   * The row for work about to start, `running` from the outset (the work
   * starts as soon as the request is answered). Pass the transaction that
   * creates the target's rows, so both exist or neither does.
   */
  async start(input: { tenantId: string; hostId: string | null; kind: string; targetId: string; step?: string }, tx: OperationDb = this.db): Promise<OperationRow> {
    return tx.operation.create({
      data: {
        tenantId: input.tenantId, hostId: input.hostId, kind: input.kind, targetId: input.targetId,
        state: 'running', step: input.step ?? 'starting', startedAt: new Date(), input: { runner: this.runner },
      },
    });
  }

  /**
   * Runs `work` after the caller has answered: its value becomes the
   * operation's result, its ForkdError the operation's error. Cleaning up
   * after a failure is the work's own business (it knows its rows).
   */
  run(op: OperationRow, work: (report: ReportProgress) => Promise<unknown>): void {
    const task = this.execute(op, work);
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  private async execute(op: OperationRow, work: (report: ReportProgress) => Promise<unknown>): Promise<void> {
    let progress: Progress = { percent: op.progress, step: op.step };
    // Progress writes go one at a time, in order, and all land before the final state.
    let writes = Promise.resolve();
    const report: ReportProgress = (r) => {
      const next = mergeProgress(progress, r);
      if (!changed({ state: 'running', progress: progress.percent, step: progress.step }, { state: 'running', progress: next.percent, step: next.step })) return;
      progress = next;
      writes = writes
        .then(() => this.db.operation.updateMany({ where: { id: op.id, state: 'running' }, data: { progress: next.percent, step: next.step } }))
        .then(() => this.changes.notify(op.id))
        .catch((err: unknown) => this.log.warn('operation progress not recorded', { operation: op.id, err: String(err) }));
    };
    let outcome: { state: 'succeeded'; result: unknown } | { state: 'failed'; error: ForkdError };
    try {
      outcome = { state: 'succeeded', result: await work(report) };
    } catch (err) {
      outcome = { state: 'failed', error: err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String((err as Error)?.message ?? err), { cause: err }) };
    }
    await writes;
    try {
      await this.finish(op.id, outcome.state === 'succeeded'
        ? { state: 'succeeded', progress: 100, result: (outcome.result ?? null) as object, finishedAt: new Date() }
        : { state: 'failed', errorCode: outcome.error.code, errorMessage: outcome.error.message, finishedAt: new Date() });
    } catch (err) {
      // Nobody awaits this task: say so in the log rather than lose it (the next start marks it interrupted).
      this.log.warn('operation outcome not recorded', { operation: op.id, err: String(err) });
    }
  }

  /** Moves a running operation to its final state; a no-op if it already ended (a restart marked it). */
  private async finish(id: string, data: { state: 'succeeded' | 'failed'; progress?: number; result?: object; errorCode?: string; errorMessage?: string; finishedAt: Date }): Promise<void> {
    checkTransition('running', data.state);
    await this.db.operation.updateMany({ where: { id, state: 'running' }, data: data as never });
    this.changes.notify(id);
  }

  private async row(owner: Owner, id: string): Promise<OperationRow> {
    const row = await this.db.operation.findFirst({ where: { id, ...scopeWhere(owner) } });
    // Another tenant's operation is as absent as a made-up id.
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no operation ${JSON.stringify(id)}`, { field: 'id' });
    return row;
  }

  /**
   * The operation as it is, or, with `waitMs`, as soon as its state or
   * progress differs from what it was when asked (at most `waitMs` later).
   * `since` is the `updatedAt` the client last saw: if the row has moved on
   * from it, the answer is at once (so no change between two polls is missed).
   * An ended operation answers at once.
   */
  async get(owner: Owner, id: string, waitMs = 0, since?: string): Promise<OperationView> {
    const seen = await this.row(owner, id);
    if (since !== undefined && seen.updatedAt.toISOString() !== since) return view(seen);
    let row = seen;
    const deadline = Date.now() + waitMs;
    while (!isTerminal(row.state) && !changed(seen, row)) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.changes.next(id, Math.min(left, REREAD_MS));
      row = await this.row(owner, id);
    }
    return view(row);
  }

  async list(tenantId: string, limit = LIST_LIMIT): Promise<OperationView[]> {
    const rows = await this.db.operation.findMany({ where: { tenantId }, orderBy: { createdAt: 'desc' }, take: limit });
    return rows.map(view);
  }

  /** Who tidies a kind's target when its operation was lost (`container.create` → the container's rows). */
  onInterrupted(kind: string, handler: InterruptedHandler): void {
    this.interruptedHandlers.set(kind, handler);
  }

  /**
   * At start: operations this API left queued or running cannot finish (their
   * work died with the old process). Mark them failed, ERR_INTERRUPTED, and
   * let each target's owner mark its half-made rows failed. Rows without a
   * runner predate operations running in the background: they were lost too.
   * Returns how many.
   */
  async failInterrupted(): Promise<number> {
    const unfinished = await this.db.operation.findMany({ where: { state: { in: ['queued', 'running'] } } });
    const lost = unfinished.filter((op) => {
      const runner = (op.input as { runner?: unknown } | null)?.runner;
      return runner === undefined || runner === this.runner;
    });
    for (const op of lost) {
      const error = new ForkdError('ERR_INTERRUPTED', `the API restarted while this ${op.kind} was running; its work was abandoned: try again`);
      await this.db.operation.updateMany({
        where: { id: op.id, state: { in: ['queued', 'running'] } },
        data: { state: 'failed', errorCode: error.code, errorMessage: error.message, finishedAt: new Date() },
      });
      const handler = this.interruptedHandlers.get(op.kind);
      if (handler && op.targetId) {
        await handler(op.targetId, op.hostId).catch((err: unknown) => this.log.warn('interrupted operation\'s rows not tidied', { operation: op.id, err: String(err) }));
      }
    }
    return lost.length;
  }

  /** Waits for work in flight (tests; a graceful stop that can afford it). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}
