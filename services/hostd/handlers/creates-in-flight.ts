// Which container.create jobs this hostd is running, so that a log stream
// opened while its container is still being made (`forkd run` opens it right
// after the POST, docs/api.md) can wait for the create instead of failing on a
// VM that does not exist yet. The stream's job may even arrive before the
// create's (the API may still be building the template): it then waits for a
// create of that VM to begin and end. A create that ended recently is
// remembered, so a stream that comes just after a failed create is answered at
// once instead of waiting for one that will never come.
import { ForkdError } from '../../contracts/errors.js';

/** How long an ended create is remembered. */
const REMEMBER_MS = 5 * 60_000;
/** The longest a stream waits for a create (a cold template build under TCG takes minutes). */
export const CREATE_WAIT_MS = 30 * 60_000;

export class CreatesInFlight {
  private readonly running = new Set<string>();
  private readonly ended = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly now: () => number = Date.now) {}

  begin(vmId: string): void {
    this.running.add(vmId);
    this.ended.delete(vmId);
  }

  /** The create of `vmId` is over (its container started, or it failed and its VM is gone). */
  end(vmId: string): void {
    this.running.delete(vmId);
    const t = this.now();
    this.ended.set(vmId, t);
    for (const [id, at] of this.ended) if (t - at > REMEMBER_MS) this.ended.delete(id);
    const wake = this.waiters.get(vmId);
    this.waiters.delete(vmId);
    for (const w of wake ?? []) w();
  }

  /**
   * Resolves when no create of `vmId` runs or is to come: at once when the VM
   * exists and none runs, or one ended within REMEMBER_MS; otherwise when the
   * next one ends, or `signal` aborts (the caller looks at it). Rejects with
   * ERR_TIMEOUT after `timeoutMs`.
   */
  async settled(vmId: string, vmExists: () => boolean, signal: AbortSignal, timeoutMs = CREATE_WAIT_MS): Promise<void> {
    if (!this.running.has(vmId) && (vmExists() || this.ended.has(vmId))) return;
    await new Promise<void>((resolve, reject) => {
      const set = this.waiters.get(vmId) ?? new Set<() => void>();
      this.waiters.set(vmId, set);
      const done = (err?: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(vmId) === set) this.waiters.delete(vmId);
        if (err) reject(err);
        else resolve();
      };
      const wake = () => done();
      const onAbort = () => done();
      const timer = setTimeout(() => done(new ForkdError('ERR_TIMEOUT', `VM ${vmId}'s container was not created within ${Math.round(timeoutMs / 60_000)} min`)), timeoutMs);
      set.add(wake);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
