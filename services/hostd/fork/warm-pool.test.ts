import { describe, expect, it } from 'vitest';
import { assertTransition, WarmPool, type ShellStarter } from './warm-pool.js';

interface FakeShell {
  n: number;
}

/** A fake starter whose start() calls can be released one by one. */
function fakeStarter(opts: { failStarts?: number } = {}) {
  let n = 0;
  let failures = opts.failStarts ?? 0;
  const pending: Array<() => void> = [];
  const log: string[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const starter: ShellStarter<FakeShell, string, { tag: string }> = {
    async start() {
      const me = ++n;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      log.push(`start ${me}`);
      await new Promise<void>((r) => pending.push(r));
      concurrent--;
      if (failures > 0) {
        failures--;
        throw new Error(`start ${me} failed`);
      }
      return { n: me };
    },
    async finish(shell, o) {
      log.push(`finish ${shell.n}`);
      return `vm${shell.n}-${o.tag}`;
    },
    async discard(shell) {
      log.push(`discard ${shell.n}`);
    },
  };
  return {
    starter,
    log,
    maxConcurrent: () => maxConcurrent,
    /** Lets the oldest pending start() complete and waits for the pool to react. */
    async release(): Promise<void> {
      pending.shift()?.();
      await tick();
    },
    pending: () => pending.length,
    /** Lets the newest pending start() complete. */
    async pending2(): Promise<void> {
      pending.pop()?.();
      await tick();
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

describe('WarmPool', () => {
  it('fills up to its size one shell at a time', async () => {
    const f = fakeStarter();
    const pool = new WarmPool({ starter: f.starter, size: 3, memoryMib: 256, freeMemoryMib: () => 10_000 });
    await tick();
    expect(pool.stats()).toMatchObject({ ready: 0, starting: 1 });
    await f.release();
    await f.release();
    await f.release();
    expect(pool.stats()).toMatchObject({ ready: 3, starting: 0 });
    expect(f.maxConcurrent()).toBe(1);
    expect(f.pending()).toBe(0);
    await pool.drain();
  });

  it('take() finishes a ready shell and refills behind it', async () => {
    const f = fakeStarter();
    const pool = new WarmPool({ starter: f.starter, size: 1, memoryMib: 256, freeMemoryMib: () => 10_000 });
    await f.release();
    expect(pool.stats().ready).toBe(1);
    expect(await pool.take({ tag: 'a' })).toBe('vm1-a');
    await tick();
    expect(pool.stats()).toMatchObject({ ready: 0, starting: 1, taken: 1, coldForks: 0 });
    await f.release();
    expect(pool.stats().ready).toBe(1);
    await pool.drain();
    expect(f.log).toEqual(['start 1', 'finish 1', 'start 2', 'discard 2']);
  });

  it('a take with refillAfter starts the refill only once the request is served', async () => {
    const f = fakeStarter();
    const pool = new WarmPool({ starter: f.starter, size: 1, memoryMib: 256, freeMemoryMib: () => 10_000 });
    await f.release();
    let served!: () => void;
    const requestServed = new Promise<void>((r) => (served = r));
    expect(await pool.take({ tag: 'a' }, requestServed)).toBe('vm1-a');
    await tick();
    // The clone is handed out, but its request (network, container start) still runs: no start beside it.
    expect(pool.stats()).toMatchObject({ ready: 0, starting: 0 });
    served();
    await tick();
    expect(pool.stats()).toMatchObject({ starting: 1 });
    await f.release();
    expect(pool.stats().ready).toBe(1);
    await pool.drain();
  });

  it('a request that fails or never ends holds the refill back no longer than refillHoldMaxMs', async () => {
    const f = fakeStarter();
    const pool = new WarmPool({ starter: f.starter, size: 1, memoryMib: 256, freeMemoryMib: () => 10_000, refillHoldMaxMs: 20 });
    await f.release();
    await pool.take({ tag: 'a' }, new Promise(() => undefined));
    await tick();
    expect(pool.stats().starting).toBe(0);
    await new Promise((r) => setTimeout(r, 40));
    expect(pool.stats().starting).toBe(1);
    await f.release();
    await pool.take({ tag: 'b' }, Promise.reject(new Error('the container did not start')));
    await tick();
    expect(pool.stats().starting).toBe(1);
    await f.release();
    await pool.drain();
  });

  it('a drain while a take holds the refill starts nothing afterwards', async () => {
    const f = fakeStarter();
    const pool = new WarmPool({ starter: f.starter, size: 1, memoryMib: 256, freeMemoryMib: () => 10_000 });
    await f.release();
    let served!: () => void;
    await pool.take({ tag: 'a' }, new Promise<void>((r) => (served = r)));
    await pool.drain();
    served();
    await tick();
    expect(f.log).toEqual(['start 1', 'finish 1']);
  });

  it('take() with nothing ready forks cold instead of waiting', async () => {
    const f = fakeStarter();
    const pool = new WarmPool({ starter: f.starter, size: 1, memoryMib: 256, freeMemoryMib: () => 10_000 });
    await tick();
    // The refill's start (1) is pending; the take starts its own (2) rather than wait.
    const vm = pool.take({ tag: 'x' });
    await tick();
    expect(f.pending()).toBe(2);
    await f.pending2();
    expect(await vm).toBe('vm2-x');
    await f.release();
    expect(pool.stats()).toMatchObject({ coldForks: 1, ready: 1 });
    await pool.drain();
  });

  it('does not start shells when host memory is short', async () => {
    const f = fakeStarter();
    let free = 600;
    const pool = new WarmPool({ starter: f.starter, size: 2, memoryMib: 256, reserveMib: 512, freeMemoryMib: () => free });
    await tick();
    expect(pool.stats().starting).toBe(0);
    free = 2000;
    // A take (cold, since nothing is ready) kicks the refill again.
    const vm = pool.take({ tag: 't' });
    await tick();
    await f.release();
    await vm;
    await f.release();
    await f.release();
    expect(pool.stats().ready).toBe(2);
    await pool.drain();
  });

  it('backs off after a failed start and recovers', async () => {
    const f = fakeStarter({ failStarts: 1 });
    const pool = new WarmPool({ starter: f.starter, size: 1, memoryMib: 256, freeMemoryMib: () => 10_000, retryDelayMs: 10 });
    await f.release(); // fails
    await new Promise((r) => setTimeout(r, 30));
    await f.release();
    expect(pool.stats()).toMatchObject({ ready: 1, startFailures: 1 });
    await pool.drain();
  });

  it('drain() destroys ready shells and one still starting, then refuses take()', async () => {
    const f = fakeStarter();
    const pool = new WarmPool({ starter: f.starter, size: 2, memoryMib: 256, freeMemoryMib: () => 10_000 });
    await f.release();
    expect(pool.stats()).toMatchObject({ ready: 1, starting: 1 });
    const drained = pool.drain();
    expect(pool.state).toBe('draining');
    await f.release();
    await drained;
    expect(pool.state).toBe('drained');
    expect(pool.stats()).toMatchObject({ ready: 0, starting: 0 });
    expect(f.log.filter((l) => l.startsWith('discard')).sort()).toEqual(['discard 1', 'discard 2']);
    await expect(pool.take({ tag: 'z' })).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    await pool.drain(); // idempotent
  });

  it('a second drain() settles only once the first has destroyed every shell', async () => {
    // hostd stopping while a resize drains the same pool: the stop must not go on with a shell still alive.
    const f = fakeStarter();
    let releaseDiscard: () => void = () => undefined;
    const discarded: number[] = [];
    f.starter.discard = (shell) => new Promise<void>((r) => { releaseDiscard = () => { discarded.push(shell.n); r(); }; });
    const pool = new WarmPool({ starter: f.starter, size: 1, memoryMib: 256, freeMemoryMib: () => 10_000 });
    await f.release();
    expect(pool.stats().ready).toBe(1);
    const first = pool.drain();
    let secondDone = false;
    const second = pool.drain().then(() => { secondDone = true; });
    await tick();
    expect(secondDone).toBe(false);
    expect(discarded).toEqual([]);
    releaseDiscard();
    await Promise.all([first, second]);
    expect(secondDone).toBe(true);
    expect(discarded).toEqual([1]);
  });

  it('a pool of size 0 never starts shells but still forks cold', async () => {
    const f = fakeStarter();
    const pool = new WarmPool({ starter: f.starter, size: 0, memoryMib: 256, freeMemoryMib: () => 10_000 });
    const vm = pool.take({ tag: 'c' });
    await tick();
    await f.release();
    expect(await vm).toBe('vm1-c');
    expect(f.log).toEqual(['start 1', 'finish 1']);
    await pool.drain();
  });

  it('rejects illegal transitions in one place', () => {
    const table = { a: ['b'], b: [] } as const;
    expect(() => assertTransition(table, 'a', 'b', 'x')).not.toThrow();
    expect(() => assertTransition(table, 'b', 'a', 'x')).toThrow(/illegal x transition b → a/);
  });
});
