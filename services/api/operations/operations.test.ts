import { afterEach, describe, expect, it, vi } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { Operations } from './operations.js';
import type { OperationRow } from './rules.js';

type Row = OperationRow & { tenantId: string | null; hostId: string | null };
type Where = { id?: string; tenantId?: string; state?: string | { in: string[] } };

/** The slice of Prisma's `operation` delegate Operations uses, over an array; writes are recorded in order. */
function fakeDb() {
  const rows: Row[] = [];
  const writes: Array<Partial<Row>> = [];
  let clock = 0;
  const matches = (r: Row, w: Where = {}) =>
    (w.id === undefined || r.id === w.id) && (w.tenantId === undefined || r.tenantId === w.tenantId)
    && (w.state === undefined || (typeof w.state === 'string' ? r.state === w.state : w.state.in.includes(r.state)));
  const operation = {
    async create({ data }: { data: Partial<Row> }) {
      const row: Row = {
        id: `op-${rows.length + 1}`, kind: '', state: 'queued', progress: 0, step: null, targetId: null, result: null, errorCode: null, errorMessage: null,
        tenantId: null, hostId: null, createdAt: new Date(++clock), updatedAt: new Date(clock), startedAt: null, finishedAt: null, ...data,
      };
      rows.push(row);
      return { ...row };
    },
    async updateMany({ where, data }: { where: Where; data: Partial<Row> }) {
      const hit = rows.filter((r) => matches(r, where));
      for (const r of hit) Object.assign(r, data, { updatedAt: new Date(++clock) });
      if (hit.length) writes.push(data);
      return { count: hit.length };
    },
    async findFirst({ where }: { where: Where }) {
      const r = rows.find((x) => matches(x, where));
      return r ? { ...r } : null;
    },
    async findMany({ where }: { where: Where }) {
      return rows.filter((r) => matches(r, where)).map((r) => ({ ...r }));
    },
  };
  return { db: { operation } as never, rows, writes };
}

const quietLog = { warn: () => {} };

afterEach(() => { vi.useRealTimers(); });

describe('running an operation', () => {
  it('answers before the work ends, records progress in order, and ends succeeded with the result', async () => {
    const { db, rows, writes } = fakeDb();
    const ops = new Operations(db, quietLog, 'api-a');
    const op = await ops.start({ tenantId: 't1', hostId: 'h1', kind: 'template.create', targetId: 'tpl-1', step: 'queued' });
    let finishWork!: () => void;
    const gate = new Promise<void>((r) => { finishWork = r; });
    ops.run(op, async (report) => {
      report({ percent: 10, step: 'template: boot' });
      report({ percent: 5, step: 'template: prepare' }); // an older percent: held at 10
      report({ percent: 5, step: 'template: prepare' }); // no news: not written
      await gate;
      return { id: 'tpl-1', state: 'ready' };
    });
    // The caller has its answer while the work still waits.
    expect(rows[0]!.state).toBe('running');
    finishWork();
    await ops.settled();
    expect(writes.slice(0, 2)).toEqual([{ progress: 10, step: 'template: boot' }, { progress: 10, step: 'template: prepare' }]);
    const done = await ops.get('t1', op.id);
    expect(done).toMatchObject({ state: 'succeeded', progress: { percent: 100 }, result: { id: 'tpl-1', state: 'ready' } });
  });

  it('ends failed with the work\'s error code and message; a non-forkd error is ERR_INTERNAL', async () => {
    const { db } = fakeDb();
    const ops = new Operations(db, quietLog, 'api-a');
    const a = await ops.start({ tenantId: 't1', hostId: 'h1', kind: 'container.create', targetId: 'c-1' });
    const b = await ops.start({ tenantId: 't1', hostId: 'h1', kind: 'container.create', targetId: 'c-2' });
    ops.run(a, async () => { throw new ForkdError('ERR_CONTAINER_START', 'no such program /x'); });
    ops.run(b, async () => { throw new TypeError('boom'); });
    await ops.settled();
    expect((await ops.get('t1', a.id)).error).toEqual({ code: 'ERR_CONTAINER_START', message: 'no such program /x' });
    expect((await ops.get('t1', b.id)).error).toEqual({ code: 'ERR_INTERNAL', message: 'boom' });
  });

  it('shows a tenant its own operations and another tenant\'s as not found', async () => {
    const { db } = fakeDb();
    const ops = new Operations(db, quietLog, 'api-a');
    const mine = await ops.start({ tenantId: 't1', hostId: null, kind: 'template.create', targetId: 'x' });
    expect((await ops.get('t1', mine.id)).id).toBe(mine.id);
    await expect(ops.get('t2', mine.id)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect((await ops.list('t1')).map((o) => o.id)).toEqual([mine.id]);
    expect(await ops.list('t2')).toEqual([]);
  });
});

describe('long-poll (waitSec)', () => {
  it('answers as soon as the progress changes, with the new progress', async () => {
    const { db } = fakeDb();
    const ops = new Operations(db, quietLog, 'api-a');
    const op = await ops.start({ tenantId: 't1', hostId: null, kind: 'template.create', targetId: 'x' });
    let report!: (r: { percent?: number; step?: string }) => void;
    let finishWork!: () => void;
    const gate = new Promise<void>((r) => { finishWork = r; });
    ops.run(op, async (r) => { report = r; await gate; return {}; });
    const waiting = ops.get('t1', op.id, 60_000);
    report({ percent: 20, step: 'template: boot' });
    expect((await waiting).progress).toEqual({ percent: 20, step: 'template: boot' });
    // …and as soon as it ends.
    const waitingEnd = ops.get('t1', op.id, 60_000);
    finishWork();
    expect((await waitingEnd).state).toBe('succeeded');
  });

  it('answers unchanged once waitSec passes with no news, and at once for an ended operation', async () => {
    vi.useFakeTimers();
    const { db } = fakeDb();
    const ops = new Operations(db, quietLog, 'api-a');
    const op = await ops.start({ tenantId: 't1', hostId: null, kind: 'template.create', targetId: 'x', step: 'queued' });
    let settled = false;
    const waiting = ops.get('t1', op.id, 5_000).then((v) => { settled = true; return v; });
    await vi.advanceTimersByTimeAsync(4_000);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1_500);
    expect(settled).toBe(true);
    expect(await waiting).toMatchObject({ state: 'running', progress: { percent: 0, step: 'queued' } });
    // An ended one does not wait at all.
    ops.run(op, async () => ({ ok: true }));
    await ops.settled();
    expect((await ops.get('t1', op.id, 60_000)).state).toBe('succeeded');
  });
});

describe('after an API restart', () => {
  it('marks operations it left queued or running failed (ERR_INTERRUPTED) and has their owner tidy the target; ended ones and another API\'s stay', async () => {
    const { db, rows } = fakeDb();
    const before = new Operations(db, quietLog, 'api-a');
    const lost = await before.start({ tenantId: 't1', hostId: 'h1', kind: 'container.create', targetId: 'c-lost' });
    const done = await before.start({ tenantId: 't1', hostId: 'h1', kind: 'container.create', targetId: 'c-done' });
    // Another API process sharing the database, still alive and working on its own.
    const elsewhere = await new Operations(db, quietLog, 'api-b').start({ tenantId: 't1', hostId: 'h1', kind: 'container.create', targetId: 'c-elsewhere' });
    before.run(done, async () => ({ id: 'c-done' }));
    await before.settled();
    // A new process over the same database:
    const after = new Operations(db, quietLog, 'api-a');
    const tidied: Array<[string, string | null]> = [];
    after.onInterrupted('container.create', async (id, hostId) => { tidied.push([id, hostId]); });
    expect(await after.failInterrupted()).toBe(1);
    expect((await after.get('t1', lost.id)).error?.code).toBe('ERR_INTERRUPTED');
    expect((await after.get('t1', done.id)).state).toBe('succeeded');
    expect(tidied).toEqual([['c-lost', 'h1']]);
    expect((await after.get('t1', elsewhere.id)).state).toBe('running');
    expect(rows.filter((r) => r.state === 'running').map((r) => r.targetId)).toEqual(['c-elsewhere']);
  });

  it('does not let work that ends late overwrite the interrupted verdict', async () => {
    const { db } = fakeDb();
    const ops = new Operations(db, quietLog, 'api-a');
    const op = await ops.start({ tenantId: 't1', hostId: null, kind: 'template.create', targetId: 'x' });
    let finishWork!: () => void;
    const gate = new Promise<void>((r) => { finishWork = r; });
    ops.run(op, async () => { await gate; return { late: true }; });
    await new Operations(db, quietLog, 'api-a').failInterrupted();
    finishWork();
    await ops.settled();
    expect(await ops.get('t1', op.id)).toMatchObject({ state: 'failed', error: { code: 'ERR_INTERRUPTED' } });
  });
});

describe('long-poll with since', () => {
  it('answers at once when the row moved on from the updatedAt the client saw, and waits when it did not', async () => {
    vi.useFakeTimers();
    const { db } = fakeDb();
    const ops = new Operations(db, quietLog, 'api-a');
    const op = await ops.start({ tenantId: 't1', hostId: null, kind: 'template.create', targetId: 'x', step: 'queued' });
    const seen = (await ops.get('t1', op.id)).updatedAt;
    let report!: (r: { percent?: number; step?: string }) => void;
    ops.run(op, async (r) => { report = r; await new Promise(() => {}); });
    report({ percent: 5, step: 'template: boot' });
    await vi.advanceTimersByTimeAsync(0);
    // The change happened between two polls: the next poll, given what it saw, answers at once.
    const moved = await ops.get('t1', op.id, 60_000, seen);
    expect(moved.progress.step).toBe('template: boot');
    // Given the newest updatedAt, it waits (here until waitSec runs out).
    let settled = false;
    const waiting = ops.get('t1', op.id, 3_000, moved.updatedAt).then((v) => { settled = true; return v; });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(2_500);
    expect((await waiting).updatedAt).toBe(moved.updatedAt);
  });
});
