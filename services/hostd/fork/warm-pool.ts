// A warm pool per template: QEMU processes already started by libvirt and
// waiting in `-incoming defer` (clone shells). Starting the domain is most of
// a fresh fork's cost (DESIGN.md); take() only loads device state, resumes and
// sets the identity.
//
// - Refill runs in the background one shell at a time (concurrency 1), so it
//   never competes with take() for more than one libvirt start.
// - The pool holds at most `size` shells, fewer when the host's free memory
//   would drop below `reserveMib` (each shell will grow towards memoryMib once
//   taken and written to).
// - take() with no ready shell falls back to a cold fork (start + finish).
// - Refill resumes after a take() is done, never beside it; a caller may hold
//   it longer (`refillAfter`: until its whole request is served, say the
//   container started), so the next shell's libvirt start, resume and
//   rehearsal do not share 2 cores with the request's own guest work. A hold
//   ends after `refillHoldMaxMs` at the latest, so a slow request never
//   starves the pool.
// - drain() stops refilling and destroys every shell, including one being started.
//
// Mode 'shell' (default) keeps shells as started. Mode 'ready' also runs the
// starter's prepare() on each shell before it counts as ready (hostd: state in,
// resumed, agent answered, but no identity), so take() only has finish() left
// (identity.set). A prepared shell is never handed out without finish(); a
// cold take() in ready mode runs start, prepare and finish in turn.
//
// Slot and pool lifecycles are explicit unions; transitions go through one
// table and an illegal one throws.

import { freemem } from 'node:os';
import { ForkdError } from '../../contracts/errors.js';
import { settledWithin } from '../../contracts/settled-within.js';

export type SlotState = 'starting' | 'preparing' | 'ready' | 'taken' | 'discarding' | 'gone';
export type PoolMode = 'shell' | 'ready';
export type PoolState = 'running' | 'draining' | 'drained';

const SLOT_TRANSITIONS: Record<SlotState, readonly SlotState[]> = {
  starting: ['preparing', 'ready', 'gone', 'discarding'],
  preparing: ['ready', 'gone', 'discarding'],
  ready: ['taken', 'discarding'],
  taken: ['gone'],
  discarding: ['gone'],
  gone: [],
};

const POOL_TRANSITIONS: Record<PoolState, readonly PoolState[]> = {
  running: ['draining'],
  draining: ['drained'],
  drained: [],
};

export function assertTransition<S extends string>(table: Record<S, readonly S[]>, from: S, to: S, what: string): void {
  if (!table[from].includes(to)) throw new ForkdError('ERR_INTERNAL', `illegal ${what} transition ${from} → ${to}`);
}

/** How the pool makes, finishes and throws away shells (fork.ts in production, fakes in tests). */
export interface ShellStarter<S, V, T = void> {
  start(): Promise<S>;
  /** Ready mode: everything of finish() that needs no take options, ahead of time. Destroys the shell itself when it fails. */
  prepare?(shell: S): Promise<S>;
  finish(shell: S, takeOpts: T): Promise<V>;
  discard(shell: S): Promise<void>;
}

export interface WarmPoolOptions<S, V, T> {
  starter: ShellStarter<S, V, T>;
  /** 'shell' (default): keep started shells. 'ready': keep prepared ones (needs starter.prepare). */
  mode?: PoolMode;
  /** Shells to keep ready. */
  size: number;
  /** Guest RAM of one clone (the template's memoryMib). */
  memoryMib: number;
  /** Free host memory to keep (MiB); no shell starts below it. */
  reserveMib?: number;
  /** Host free memory in MiB (default: os.freemem()). */
  freeMemoryMib?: () => number;
  /** Pause after a failed start, doubling per consecutive failure (default 1 s, up to 30 s). */
  retryDelayMs?: number;
  /** The longest a take's `refillAfter` holds the refill back (default 10 s). */
  refillHoldMaxMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Slot<S> {
  id: number;
  state: SlotState;
  shell: S | null;
}

export interface PoolStats {
  state: PoolState;
  mode: PoolMode;
  ready: number;
  /** Being started or (ready mode) prepared. */
  starting: number;
  taken: number;
  coldForks: number;
  startFailures: number;
}

export class WarmPool<S, V, T = void> {
  #state: PoolState = 'running';
  readonly #slots = new Map<number, Slot<S>>();
  #nextId = 1;
  #refilling: Promise<void> | null = null;
  #draining: Promise<void> | null = null;
  #failures = 0;
  #wake: (() => void) | null = null;
  #stats = { taken: 0, coldForks: 0, startFailures: 0 };
  readonly #opts: Required<Omit<WarmPoolOptions<S, V, T>, 'log'>> & Pick<WarmPoolOptions<S, V, T>, 'log'>;

  constructor(opts: WarmPoolOptions<S, V, T>) {
    if (!Number.isInteger(opts.size) || opts.size < 0) throw new ForkdError('ERR_INTERNAL', `pool size must be a whole number ≥ 0 (got ${opts.size})`);
    this.#opts = {
      reserveMib: 512,
      freeMemoryMib: () => freemem() / (1024 * 1024),
      retryDelayMs: 1000,
      refillHoldMaxMs: 10_000,
      mode: 'shell',
      ...opts,
    };
    if (this.#opts.mode === 'ready' && !this.#opts.starter.prepare) throw new ForkdError('ERR_INTERNAL', 'a ready-mode pool needs starter.prepare');
    this.#kick();
  }

  get state(): PoolState {
    return this.#state;
  }

  stats(): PoolStats {
    const count = (s: SlotState): number => [...this.#slots.values()].filter((x) => x.state === s).length;
    return { state: this.#state, mode: this.#opts.mode, ready: count('ready'), starting: count('starting') + count('preparing'), ...this.#stats };
  }

  /**
   * A finished clone: from a ready shell when there is one, otherwise forked
   * cold. The refill starts once the clone is finished and `refillAfter` (when
   * given) has settled, or `refillHoldMaxMs` passed.
   */
  async take(takeOpts: T, refillAfter?: Promise<unknown>): Promise<V> {
    // Settled, never rejected: a request that fails before the finish is done must not be an unhandled rejection.
    const hold = refillAfter?.then(() => undefined, () => undefined);
    if (this.#state !== 'running') throw new ForkdError('ERR_CONFLICT', `the warm pool is ${this.#state}`);
    const slot = [...this.#slots.values()].find((s) => s.state === 'ready');
    this.#stats.taken++;
    // The refill is kicked only once this take is done: a libvirt start running
    // beside the finish would slow the request it is meant to serve.
    if (!slot) {
      this.#stats.coldForks++;
      try {
        const started = await this.#opts.starter.start();
        const shell = this.#opts.mode === 'ready' ? await this.#opts.starter.prepare!(started) : started;
        return await this.#opts.starter.finish(shell, takeOpts);
      } finally {
        this.#kickAfter(hold);
      }
    }
    const shell = slot.shell!;
    this.#move(slot, 'taken');
    try {
      // finish() cleans up the shell itself when it fails.
      return await this.#opts.starter.finish(shell, takeOpts);
    } finally {
      this.#move(slot, 'gone');
      this.#kickAfter(hold);
    }
  }

  /**
   * Stops refilling and destroys every shell the pool holds. Idempotent: every
   * caller gets the same promise, which settles only once the last shell is
   * destroyed (a second caller, hostd stopping during a resize, must not go on
   * while the first one is still discarding).
   */
  drain(): Promise<void> {
    this.#draining ??= this.#drainOnce();
    return this.#draining;
  }

  async #drainOnce(): Promise<void> {
    this.#setState('draining');
    this.#wake?.();
    await this.#refilling;
    await Promise.all(
      [...this.#slots.values()].filter((s) => s.state === 'ready').map((s) => this.#discard(s)),
    );
    this.#setState('drained');
  }

  #setState(to: PoolState): void {
    assertTransition(POOL_TRANSITIONS, this.#state, to, 'pool');
    this.#state = to;
  }

  #move(slot: Slot<S>, to: SlotState): void {
    assertTransition(SLOT_TRANSITIONS, slot.state, to, 'pool slot');
    slot.state = to;
    if (to === 'gone') this.#slots.delete(slot.id);
  }

  async #discard(slot: Slot<S>): Promise<void> {
    this.#move(slot, 'discarding');
    try {
      await this.#opts.starter.discard(slot.shell!);
    } catch (err) {
      this.#opts.log?.('warm pool: discarding a shell failed', { err: (err as Error).message });
    }
    this.#move(slot, 'gone');
  }

  #wanted(): boolean {
    if (this.#state !== 'running') return false;
    const held = [...this.#slots.values()].filter((s) => s.state === 'ready' || s.state === 'starting' || s.state === 'preparing').length;
    if (held >= this.#opts.size) return false;
    const free = this.#opts.freeMemoryMib();
    if (free - this.#opts.memoryMib < this.#opts.reserveMib) {
      this.#opts.log?.('warm pool: not refilling, host memory low', { freeMib: Math.round(free), reserveMib: this.#opts.reserveMib });
      return false;
    }
    return true;
  }

  /** #kick once `hold` settles (or refillHoldMaxMs passed); at once without one. A drain meanwhile makes it a no-op. */
  #kickAfter(hold: Promise<void> | undefined): void {
    if (!hold) return this.#kick();
    void settledWithin(hold, this.#opts.refillHoldMaxMs).then(() => this.#kick());
  }

  /** Starts the refill loop unless it is running (concurrency 1). */
  #kick(): void {
    if (this.#refilling || !this.#wanted()) return;
    this.#refilling = this.#refill().finally(() => {
      this.#refilling = null;
    });
  }

  async #refill(): Promise<void> {
    while (this.#wanted()) {
      const slot: Slot<S> = { id: this.#nextId++, state: 'starting', shell: null };
      this.#slots.set(slot.id, slot);
      try {
        slot.shell = await this.#opts.starter.start();
        if (this.#opts.mode === 'ready') {
          if (this.#state !== 'running') {
            await this.#discard(slot); // drain began while it was starting
            return;
          }
          this.#move(slot, 'preparing');
          // prepare() destroys the shell itself when it fails.
          const started = slot.shell;
          slot.shell = null;
          slot.shell = await this.#opts.starter.prepare!(started);
        }
        this.#failures = 0;
      } catch (err) {
        this.#move(slot, 'gone');
        this.#failures++;
        this.#stats.startFailures++;
        const delay = Math.min(this.#opts.retryDelayMs * 2 ** (this.#failures - 1), 30_000);
        this.#opts.log?.('warm pool: starting a shell failed', { err: (err as Error).message, retryInMs: delay });
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.#wake = null;
        continue;
      }
      if (this.#state !== 'running') {
        await this.#discard(slot); // drain began while it was starting or being prepared
        return;
      }
      this.#move(slot, 'ready');
    }
  }
}
