// The warm pool's 'ready' mode: shells are started, then prepared (hostd:
// resumed, agent answered, no identity), and only a prepared shell counts as
// ready; take() runs finish() only (hostd: identity.set).
import { describe, expect, it } from 'vitest';
import { WarmPool, type ShellStarter } from './warm-pool.js';

interface FakeShell {
  n: number;
  prepared: boolean;
}

/** A fake starter whose prepare() calls can be released one by one (start() is immediate). */
function readyStarter(opts: { failPrepares?: number } = {}) {
  let n = 0;
  let failures = opts.failPrepares ?? 0;
  const pending: Array<() => void> = [];
  const log: string[] = [];
  const starter: ShellStarter<FakeShell, string, { tag: string }> = {
    async start() {
      const me = ++n;
      log.push(`start ${me}`);
      return { n: me, prepared: false };
    },
    async prepare(shell) {
      log.push(`prepare ${shell.n}`);
      await new Promise<void>((r) => pending.push(r));
      if (failures > 0) {
        failures--;
        log.push(`discard ${shell.n} (prepare failed)`);
        throw new Error(`prepare ${shell.n} failed`);
      }
      return { ...shell, prepared: true };
    },
    async finish(shell, o) {
      log.push(`finish ${shell.n}${shell.prepared ? '' : ' (NOT PREPARED)'}`);
      return `vm${shell.n}-${o.tag}`;
    },
    async discard(shell) {
      log.push(`discard ${shell.n}${shell.prepared ? ' (prepared)' : ''}`);
    },
  };
  return {
    starter,
    log,
    async release(): Promise<void> {
      pending.shift()?.();
      await tick();
    },
    pending: () => pending.length,
  };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
const opts = { memoryMib: 256, freeMemoryMib: () => 10_000, retryDelayMs: 1 };

describe('WarmPool, ready mode', () => {
  it('refuses ready mode without prepare()', () => {
    const { prepare: _p, ...noPrepare } = readyStarter().starter;
    expect(() => new WarmPool({ ...opts, starter: noPrepare, size: 1, mode: 'ready' })).toThrow(/prepare/);
  });

  it('counts a shell as ready only once prepared; take() only finishes it', async () => {
    const f = readyStarter();
    const pool = new WarmPool({ ...opts, starter: f.starter, size: 2, mode: 'ready' });
    await tick();
    expect(pool.stats()).toMatchObject({ mode: 'ready', ready: 0, starting: 1 });
    await f.release();
    expect(pool.stats()).toMatchObject({ ready: 1, starting: 1 });
    await f.release();
    expect(pool.stats()).toMatchObject({ ready: 2, starting: 0 });
    expect(f.log).toEqual(['start 1', 'prepare 1', 'start 2', 'prepare 2']);

    f.log.length = 0;
    expect(await pool.take({ tag: 'a' })).toBe('vm1-a');
    // finish only: no start or prepare on the take's path (the refill starts after it).
    expect(f.log[0]).toBe('finish 1');
    expect(f.log.slice(1)).toEqual(['start 3', 'prepare 3']);
    await f.release();
    expect(pool.stats()).toMatchObject({ ready: 2, starting: 0, taken: 1, coldForks: 0 });
    await pool.drain();
  });

  it('a cold take (nothing ready) starts, prepares and finishes in turn', async () => {
    const f = readyStarter();
    const pool = new WarmPool({ ...opts, starter: f.starter, size: 0, mode: 'ready' });
    const vm = pool.take({ tag: 'c' });
    await tick();
    await f.release();
    expect(await vm).toBe('vm1-c');
    expect(f.log).toEqual(['start 1', 'prepare 1', 'finish 1']);
    expect(pool.stats()).toMatchObject({ coldForks: 1 });
    await pool.drain();
  });

  it('never hands out an unprepared shell, and retries a failed prepare', async () => {
    const f = readyStarter({ failPrepares: 1 });
    const pool = new WarmPool({ ...opts, starter: f.starter, size: 1, mode: 'ready' });
    await tick();
    await f.release(); // prepare 1 fails: prepare discards it itself
    expect(pool.stats()).toMatchObject({ ready: 0, startFailures: 1 });
    await tick();
    await f.release(); // prepare 2 succeeds
    expect(pool.stats()).toMatchObject({ ready: 1, starting: 0 });
    expect(await pool.take({ tag: 'x' })).toBe('vm2-x');
    expect(f.log.filter((l) => l.includes('NOT PREPARED'))).toEqual([]);
    expect(f.log).toContain('discard 1 (prepare failed)');
    await f.release();
    await pool.drain();
  });

  it('drain destroys ready clones and one being prepared', async () => {
    const f = readyStarter();
    const pool = new WarmPool({ ...opts, starter: f.starter, size: 2, mode: 'ready' });
    await tick();
    await f.release();
    expect(pool.stats()).toMatchObject({ ready: 1, starting: 1 });
    const drained = pool.drain();
    await tick();
    await f.release(); // the clone being prepared finishes preparing during the drain
    await drained;
    expect(f.log.filter((l) => l.startsWith('discard')).sort()).toEqual(['discard 1 (prepared)', 'discard 2 (prepared)']);
    expect(pool.stats()).toMatchObject({ state: 'drained', ready: 0, starting: 0 });
    await expect(pool.take({ tag: 'late' })).rejects.toThrow(/drained/);
  });

  it('shell mode (the default) never calls prepare()', async () => {
    const f = readyStarter();
    const pool = new WarmPool({ ...opts, starter: f.starter, size: 1 });
    await tick();
    expect(pool.stats()).toMatchObject({ mode: 'shell', ready: 1 });
    expect(await pool.take({ tag: 's' })).toBe('vm1-s');
    expect(f.log).toContain('finish 1 (NOT PREPARED)');
    expect(f.log.filter((l) => l.startsWith('prepare'))).toEqual([]);
    await pool.drain();
  });
});
