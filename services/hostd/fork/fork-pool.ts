// The warm pool wired to the real fork: shells are clone domains started
// paused in `-incoming defer` (startCloneShell), take() finishes one
// (finishClone: device state, resume, agent, identity).

import type { Params } from '../../contracts/agent-protocol/messages.js';
import { discardShell, finishClone, startCloneShell, type CloneShell, type FinishOptions, type ForkedVm, type ShellOptions } from './fork.js';
import type { ForkAgent } from './ports.js';
import { WarmPool, type WarmPoolOptions } from './warm-pool.js';

export interface TakeOptions {
  /** The clone's hostname (default `forkd-<id>`). */
  hostname?: string;
  guestNetwork?: Params<'identity.set'>['network'];
}

export interface ForkPoolOptions<A extends ForkAgent>
  extends Omit<ShellOptions, 'id' | 'hostname' | 'takenMacs'>,
    Omit<FinishOptions<A>, 'guestNetwork'>,
    Pick<WarmPoolOptions<CloneShell, ForkedVm<A>, TakeOptions>, 'size' | 'reserveMib' | 'freeMemoryMib' | 'retryDelayMs' | 'log'> {
  /** MACs in use on this host, read at each shell start. */
  takenMacs?: () => ReadonlySet<string>;
}

export type ForkPool<A extends ForkAgent> = WarmPool<CloneShell, ForkedVm<A>, TakeOptions>;

export function createForkPool<A extends ForkAgent>(opts: ForkPoolOptions<A>): ForkPool<A> {
  return new WarmPool<CloneShell, ForkedVm<A>, TakeOptions>({
    size: opts.size,
    memoryMib: opts.template.manifest.memoryMib,
    ...(opts.reserveMib === undefined ? {} : { reserveMib: opts.reserveMib }),
    ...(opts.freeMemoryMib === undefined ? {} : { freeMemoryMib: opts.freeMemoryMib }),
    ...(opts.retryDelayMs === undefined ? {} : { retryDelayMs: opts.retryDelayMs }),
    ...(opts.log === undefined ? {} : { log: opts.log }),
    starter: {
      start: () => {
        const { takenMacs, ...shellOpts } = opts;
        return startCloneShell({ ...shellOpts, ...(takenMacs ? { takenMacs: takenMacs() } : {}) });
      },
      finish: (shell, take) => {
        const ready = take.hostname === undefined ? shell : { ...shell, identity: { ...shell.identity, hostname: take.hostname } };
        return finishClone(ready, { ...opts, ...(take.guestNetwork === undefined ? {} : { guestNetwork: take.guestNetwork }) });
      },
      discard: discardShell,
    },
  });
}
