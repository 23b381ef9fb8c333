import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { changed, checkTransition, isTerminal, MAX_WAIT_SEC, mergeProgress, view, waitMs, within, type OperationRow } from './rules.js';

const row = (over: Partial<OperationRow> = {}): OperationRow => ({
  id: 'op-1', kind: 'template.create', state: 'running', progress: 40, step: 'template: boot', targetId: 't-1',
  result: null, errorCode: null, errorMessage: null,
  createdAt: new Date('2026-11-30T10:00:00Z'), updatedAt: new Date('2026-11-30T10:00:05Z'), startedAt: new Date('2026-11-30T10:00:00Z'), finishedAt: null,
  ...over,
});

describe('operation state changes', () => {
  it('runs from queued or running to an end, and never leaves an end', () => {
    expect(() => checkTransition('queued', 'running')).not.toThrow();
    expect(() => checkTransition('running', 'succeeded')).not.toThrow();
    expect(() => checkTransition('running', 'failed')).not.toThrow();
    expect(() => checkTransition('queued', 'failed')).not.toThrow();
    for (const [from, to] of [['succeeded', 'failed'], ['failed', 'running'], ['succeeded', 'running'], ['running', 'queued'], ['queued', 'succeeded'], ['nonsense', 'failed']] as const) {
      expect(() => checkTransition(from, to), `${from} -> ${to}`).toThrow(ForkdError);
    }
  });

  it('calls succeeded and failed the ends, and nothing else', () => {
    expect(isTerminal('succeeded')).toBe(true);
    expect(isTerminal('failed')).toBe(true);
    expect(isTerminal('running')).toBe(false);
    expect(isTerminal('queued')).toBe(false);
  });
});

describe('progress merge', () => {
  it('keeps the newest step and never lets the percent go back', () => {
    const start = { percent: 0, step: null };
    const a = mergeProgress(start, { percent: 30, step: 'template: boot' });
    expect(a).toEqual({ percent: 30, step: 'template: boot' });
    // A second job counts from 0 again, or a report arrives late: the percent holds, the step moves on.
    expect(mergeProgress(a, { percent: 5, step: 'vm' })).toEqual({ percent: 30, step: 'vm' });
    expect(mergeProgress(a, { step: 'template: save' })).toEqual({ percent: 30, step: 'template: save' });
    expect(mergeProgress(a, { percent: 31.6 })).toEqual({ percent: 32, step: 'template: boot' });
  });

  it('holds a running operation below 100 (only the end says done) and ignores nonsense numbers', () => {
    expect(mergeProgress({ percent: 10, step: 'a' }, { percent: 100 }).percent).toBe(99);
    expect(mergeProgress({ percent: 10, step: 'a' }, { percent: 250 }).percent).toBe(99);
    expect(mergeProgress({ percent: 10, step: 'a' }, { percent: -5 }).percent).toBe(10);
    expect(mergeProgress({ percent: 10, step: 'a' }, { percent: Number.NaN }).percent).toBe(10);
    expect(mergeProgress({ percent: 10, step: 'a' }, { percent: 60 }).percent).toBe(60);
  });

  it('maps a job\'s own 0..100 into its slice of the operation', () => {
    expect(within({ from: 0, to: 70 }, 0)).toBe(0);
    expect(within({ from: 0, to: 70 }, 50)).toBe(35);
    expect(within({ from: 70, to: 100 }, 100)).toBe(100);
    expect(within({ from: 70, to: 100 }, 150)).toBe(100);
    expect(within({ from: 70, to: 100 }, Number.NaN)).toBe(70);
  });

  it('sees a change in state, percent or step, and none when all three are equal', () => {
    const base = { state: 'running', progress: 10, step: 'a' };
    expect(changed(base, { ...base })).toBe(false);
    expect(changed(base, { ...base, state: 'failed' })).toBe(true);
    expect(changed(base, { ...base, progress: 11 })).toBe(true);
    expect(changed(base, { ...base, step: 'b' })).toBe(true);
  });
});

describe('waitSec', () => {
  it('is 0 when absent or not positive, seconds in ms up to the cap', () => {
    expect(waitMs(undefined)).toBe(0);
    expect(waitMs(0)).toBe(0);
    expect(waitMs(-3)).toBe(0);
    expect(waitMs(5)).toBe(5000);
    expect(waitMs(MAX_WAIT_SEC)).toBe(60_000);
    expect(waitMs(3600)).toBe(MAX_WAIT_SEC * 1000);
  });
});

describe('what a client sees', () => {
  it('shows progress while running, no result and no error', () => {
    const v = view(row());
    expect(v).toMatchObject({ id: 'op-1', kind: 'template.create', state: 'running', progress: { percent: 40, step: 'template: boot' }, targetId: 't-1', finishedAt: null });
    expect(v).not.toHaveProperty('result');
    expect(v).not.toHaveProperty('error');
  });

  it('shows 100 % and the result once succeeded, the error once failed', () => {
    const ok = view(row({ state: 'succeeded', progress: 99, result: { id: 't-1', state: 'ready' }, finishedAt: new Date('2026-11-30T10:01:00Z') }));
    expect(ok.progress.percent).toBe(100);
    expect(ok.result).toEqual({ id: 't-1', state: 'ready' });
    expect(ok).not.toHaveProperty('error');
    const bad = view(row({ state: 'failed', errorCode: 'ERR_INTERRUPTED', errorMessage: 'the API restarted' }));
    expect(bad.error).toEqual({ code: 'ERR_INTERRUPTED', message: 'the API restarted' });
    expect(bad).not.toHaveProperty('result');
  });
});
