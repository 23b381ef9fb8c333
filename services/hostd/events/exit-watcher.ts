// Where hostd notices a container exit: the agent tells no one when a
// container exits, it answers container.wait. So each started container has
// one watcher here, a container.wait held open on the agent channel, and its
// answer becomes the `die` event (exit code, OOM). A watcher ends with its VM
// (destroy closes the agent: no `die`, the API's `destroy` follows) or when
// hostd stops; a restarted hostd watches again the containers it adopts that
// are still running (an exit while no hostd ran is not reported).
import type { EventPublisher } from '../../contracts/events/index.js';
import { ForkdError } from '../../contracts/errors.js';
import { settledWithin } from '../../contracts/settled-within.js';
import { errorFields, type Logger } from '../../contracts/logger.js';
import type { ManagedVm } from '../vm/vm-manager.js';

/** One wait's slice: long, but bounded so a lost answer is asked again. */
const WAIT_SLICE_MS = 3600_000;

/** What a watcher needs to name the container in its event. */
export interface WatchedContainer {
  tenantId: string;
  containerId: string;
  name?: string;
  image?: string;
}

/** The longest a container.wait answer waits for its watcher's `die` to be published (exitPublished). */
const DIE_ORDER_MAX_MS = 5_000;

export class ExitWatcher {
  private readonly stopping = new AbortController();
  /** Each watched container's run, settled once its `die` is published or the watch ended. */
  private readonly watching = new Map<string, Promise<void>>();

  constructor(private readonly events: EventPublisher, private readonly log: Logger) {}

  /** Starts watching (once per container; a second call is a no-op). Never throws. */
  watch(vm: ManagedVm, c: WatchedContainer): void {
    if (this.watching.has(c.containerId) || this.stopping.signal.aborted) return;
    const run = this.run(vm, c).finally(() => this.watching.delete(c.containerId));
    this.watching.set(c.containerId, run);
  }

  /**
   * Settles once the watcher of an exited container has published its `die`
   * (at once when none watches it; at most DIE_ORDER_MAX_MS). The API's wait
   * answers after this, so a client that waits and then removes sees `die`
   * before `destroy` on the event stream, as Docker's clients expect; before,
   * a removal quick enough (a busy hostd, a fast clone) published `destroy`
   * first.
   */
  async exitPublished(containerId: string, maxMs = DIE_ORDER_MAX_MS): Promise<void> {
    const run = this.watching.get(containerId);
    if (run) await settledWithin(run, maxMs);
  }

  /** Ends every watch (hostd stops; the VMs run on and the next hostd watches them). */
  close(): void {
    this.stopping.abort();
  }

  private async run(vm: ManagedVm, c: WatchedContainer): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted && vm.state === 'running') {
      try {
        const r = await vm.agent.call('container.wait', { id: c.containerId }, { timeoutMs: WAIT_SLICE_MS, signal });
        await this.events.publish({
          type: 'container', action: 'die', tenantId: c.tenantId,
          actor: {
            id: c.containerId, ...(c.name ? { name: c.name } : {}),
            attributes: {
              exitCode: String(r.exitCode), oomKilled: String(r.oomKilled), vmId: vm.vmId,
              ...(r.signal ? { signal: r.signal } : {}), ...(c.image ? { image: c.image } : {}),
            },
          },
        });
        return;
      } catch (err) {
        if (err instanceof ForkdError && err.code === 'ERR_GUEST_TIMEOUT') continue; // the slice ran out: ask again
        // The VM went (destroyed, agent closed) or hostd is stopping: nothing exited that we can report.
        if (!signal.aborted && vm.state === 'running') this.log.warn('stopped watching a container for its exit', { container: c.containerId, ...errorFields(err) });
        return;
      }
    }
  }
}
