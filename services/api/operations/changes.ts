// Wakes long-polls when an operation this process runs changes. The work runs
// in this process, so an in-process signal is enough; waiters still re-read
// the row on a short period so a change written elsewhere is seen too.
import { EventEmitter } from 'node:events';

export class OperationChanges {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per waiting request: many clients may follow one operation.
    this.emitter.setMaxListeners(0);
  }

  notify(id: string): void {
    this.emitter.emit(id);
  }

  /** Resolves at the next change of `id`, or after `ms`, whichever is first. */
  next(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.emitter.off(id, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.emitter.once(id, done);
    });
  }
}
