// The warm pool wired to the real fork. Mode 'shell' (default): shells are
// clone domains started paused in `-incoming defer` (startCloneShell) with the
// template's device state loaded ahead (loadShellState), take() finishes one
// (finishClone: resume, agent, identity). Mode
// 'ready': the pool also resumes each shell, waits for its agent and applies
// the part of its identity no request chooses (identifyAhead: machine-id, MAC,
// entropy) ahead of time, and take() only sends the rest (identifyClone:
// hostname, clock, network) in one small round trip. With `rehearsal` it also
// runs one throwaway container in the clone first (rehearseAhead), so a take's
// container start is not the clone's first, and, when the template has an
// image, holds a container of it ahead (holdAhead): the take's create takes it
// and its start only hands the command over. An idle ready clone still has its
// template's hostname and clock and is never handed out without it.

import { ForkdError } from '../../contracts/errors.js';
import {
  discardResumed,
  discardShell,
  finishClone,
  identifyAhead,
  identifyClone,
  loadShellState,
  holdAhead,
  rehearseAhead,
  resumeClone,
  startCloneShell,
  type CloneShell,
  type FinishOptions,
  type ForkedVm,
  type GuestJoin,
  type ResumedClone,
  type ShellOptions,
} from './fork.js';
import type { ForkAgent } from './ports.js';
import { WarmPool, type PoolMode, type WarmPoolOptions } from './warm-pool.js';

export interface TakeOptions {
  /** The clone's hostname (default `forkd-<id>`). */
  hostname?: string;
  /** The clone's tenant network, joined as part of the take (FinishOptions.join). */
  join?: GuestJoin;
}

/** What the pool holds: a shell, and in ready mode the same shell resumed with its agent answered. */
export interface PoolShell<A extends ForkAgent> {
  shell: CloneShell;
  resumed: ResumedClone<A> | null;
}

export interface ForkPoolOptions<A extends ForkAgent>
  extends Omit<ShellOptions, 'id' | 'hostname' | 'takenMacs'>,
    Omit<FinishOptions<A>, 'join'>,
    Pick<WarmPoolOptions<PoolShell<A>, ForkedVm<A>, TakeOptions>, 'size' | 'reserveMib' | 'freeMemoryMib' | 'retryDelayMs' | 'log'> {
  /** MACs in use on this host, read at each shell start. */
  takenMacs?: () => ReadonlySet<string>;
  /** 'shell' (default) or 'ready' (needs `agent`). */
  mode?: PoolMode;
  /**
   * Ready mode: run one throwaway container in each clone before it counts as
   * ready (rehearseAhead), over this container image when the template has one
   * (null: none). Absent: no rehearsal.
   */
  rehearsal?: { image: string | null };
  /**
   * Ready mode with a rehearsal image: after the rehearsal, hold a container
   * of that image ahead for the take's create (holdAhead). Default true.
   */
  holdContainer?: boolean;
}

export type ForkPool<A extends ForkAgent> = WarmPool<PoolShell<A>, ForkedVm<A>, TakeOptions>;

export function createForkPool<A extends ForkAgent>(opts: ForkPoolOptions<A>): ForkPool<A> {
  const mode = opts.mode ?? 'shell';
  if (mode === 'ready' && !opts.agent) throw new ForkdError('ERR_INTERNAL', 'a ready-mode fork pool needs an agent to resume clones up to');
  const withHostname = (shell: CloneShell, take: TakeOptions): CloneShell =>
    take.hostname === undefined ? shell : { ...shell, identity: { ...shell.identity, hostname: take.hostname } };
  const finishOpts = (take: TakeOptions): FinishOptions<A> => ({ ...opts, ...(take.join ? { join: take.join } : {}) });
  return new WarmPool<PoolShell<A>, ForkedVm<A>, TakeOptions>({
    size: opts.size,
    mode,
    memoryMib: opts.template.manifest.memoryMib,
    ...(opts.reserveMib === undefined ? {} : { reserveMib: opts.reserveMib }),
    ...(opts.freeMemoryMib === undefined ? {} : { freeMemoryMib: opts.freeMemoryMib }),
    ...(opts.retryDelayMs === undefined ? {} : { retryDelayMs: opts.retryDelayMs }),
    ...(opts.log === undefined ? {} : { log: opts.log }),
    starter: {
      start: async () => {
        const { takenMacs, ...shellOpts } = opts;
        const shell = await startCloneShell({ ...shellOpts, ...(takenMacs ? { takenMacs: takenMacs() } : {}) });
        // The device state goes in now, not at the take (still paused: no CPU, no identity yet).
        return { shell: await loadShellState(shell, opts), resumed: null };
      },
      // Ready mode: resumed, agent answered and the request-independent identity applied, all before any take.
      prepare: async (p) => {
        const identified = await identifyAhead(await resumeClone(p.shell, opts));
        const rehearsal = opts.rehearsal;
        const rehearsed = rehearsal
          ? await rehearseAhead(identified, rehearsal.image, (err) => opts.log?.('warm pool: the rehearsal container failed (the clone is kept)', { err: (err as Error).message }))
          : identified;
        const image = rehearsal?.image ?? null;
        const resumed = image !== null && opts.holdContainer !== false
          ? await holdAhead(rehearsed, image, (err) => opts.log?.('warm pool: no container held ahead (the clone is kept)', { err: (err as Error).message }))
          : rehearsed;
        return { shell: p.shell, resumed };
      },
      finish: (p, take) => {
        if (p.resumed) return identifyClone({ ...p.resumed, shell: withHostname(p.resumed.shell, take) }, finishOpts(take));
        return finishClone(withHostname(p.shell, take), finishOpts(take));
      },
      discard: (p) => (p.resumed ? discardResumed(p.resumed) : discardShell(p.shell)),
    },
  });
}
