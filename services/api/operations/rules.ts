// The rules of an operation (long work the API does after answering): which
// state changes are legal, how progress reports merge, what a client sees, and
// how long a long-poll may wait. Pure, so each rule has a unit test.
import { ForkdError } from '../../contracts/errors.js';
import { operationLifecycle, OPERATION_STATES, type OperationState } from '../../contracts/lifecycle/index.js';

export { OPERATION_STATES, type OperationState };

/** What a create hands back at once (HTTP 202) and `GET /v1/operations/:id` shows. */
export interface OperationView {
  id: string;
  kind: string;
  state: OperationState;
  progress: Progress;
  targetId: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The created resource's view, once `succeeded`. */
  result?: unknown;
  /** Why it failed, once `failed`: a code from the error catalogue. */
  error?: { code: string; message: string };
}

export interface Progress {
  /** 0..100; never goes back while the operation runs. */
  percent: number;
  /** What the work is doing now (`placing`, `template: boot`, `container`); null before it starts. */
  step: string | null;
}

/** The operation row's fields these rules read (Prisma's `Operation`). */
export interface OperationRow {
  id: string;
  kind: string;
  state: string;
  progress: number;
  step: string | null;
  targetId: string | null;
  result: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** An ended operation: its lifecycle allows no move out of it. */
export function isTerminal(state: string): boolean {
  return operationLifecycle.isState(state) && operationLifecycle.transitions[state].length === 0;
}

/** Refuses an illegal move (contracts/lifecycle/operation.ts holds the table); an unknown state is refused too. */
export function checkTransition(from: string, to: OperationState): void {
  if (!operationLifecycle.isState(from)) throw new ForkdError('ERR_INTERNAL', `operation in unknown state ${JSON.stringify(from)}`);
  operationLifecycle.transition(from, to);
}

/**
 * Merges a progress report into what the row says. Percent never goes back
 * (two jobs in a row each count from 0; a report out of order is old news),
 * and is clamped to 0..99 while running: 100 means done, which only the
 * final state says. The step is always the newest.
 */
export function mergeProgress(current: Progress, report: { percent?: number; step?: string }): Progress {
  const reported = Number.isFinite(report.percent) ? Math.round(report.percent as number) : current.percent;
  return {
    percent: Math.max(current.percent, Math.min(99, Math.max(0, reported))),
    step: report.step ?? current.step,
  };
}

/** A hostd job's own 0..100 mapped into the slice of the operation it stands for. */
export function within(slice: { from: number; to: number }, percent: number): number {
  const p = Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0));
  return Math.round(slice.from + ((slice.to - slice.from) * p) / 100);
}

/** Did anything a client watches change: state or progress (percent or step)? */
export function changed(before: Pick<OperationRow, 'state' | 'progress' | 'step'>, after: Pick<OperationRow, 'state' | 'progress' | 'step'>): boolean {
  return before.state !== after.state || before.progress !== after.progress || before.step !== after.step;
}

/** The longest `?waitSec` a long-poll may hold a request. */
export const MAX_WAIT_SEC = 60;

/** `?waitSec` in milliseconds: absent is 0 (answer at once); more than MAX_WAIT_SEC is refused by the schema, clamped here too. */
export function waitMs(waitSec: number | undefined): number {
  if (waitSec === undefined || !Number.isFinite(waitSec) || waitSec <= 0) return 0;
  return Math.min(MAX_WAIT_SEC, waitSec) * 1000;
}

export function view(row: OperationRow): OperationView {
  const state = (OPERATION_STATES as readonly string[]).includes(row.state) ? (row.state as OperationState) : 'failed';
  return {
    id: row.id,
    kind: row.kind,
    state,
    progress: { percent: state === 'succeeded' ? 100 : row.progress, step: row.step },
    targetId: row.targetId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    ...(state === 'succeeded' && row.result != null ? { result: row.result } : {}),
    ...(state === 'failed' ? { error: { code: row.errorCode ?? 'ERR_INTERNAL', message: row.errorMessage ?? 'the operation failed' } } : {}),
  };
}
