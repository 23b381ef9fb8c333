// A job's progress reports, thinned before they leave hostd. Each report is a
// Redis write that the API turns into a database write, a long-poll answer and
// the CLI's next request: six of them in a pool create that lasts half a
// second kept the API busy on a 2-core host while the guest (TCG) needed the
// cores. A job shows nothing in its first QUIET_MS (a fast create needs no
// progress line), then at most one report per GAP_MS, always the latest; a
// report still pending when the job ends is dropped (its end says 100%).

export interface Progress {
  percent: number;
  step: string;
}

export const QUIET_MS = 300;
export const GAP_MS = 200;

export class JobProgress {
  private pending: Progress | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastSentAt: number;
  private closed = false;

  constructor(
    private readonly send: (p: Progress) => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {
    // The quiet start counts as if a report had just gone out.
    this.lastSentAt = now() + QUIET_MS - GAP_MS;
  }

  /** Records `p` as the latest; it goes out when its turn comes. Never throws, never waits. */
  report(p: Progress): void {
    if (this.closed) return;
    this.pending = p;
    if (this.timer) return;
    const wait = Math.max(0, this.lastSentAt + GAP_MS - this.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** The job ended: nothing more is sent. */
  close(): void {
    this.closed = true;
    this.pending = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private flush(): void {
    this.timer = null;
    const p = this.pending;
    this.pending = null;
    if (!p || this.closed) return;
    this.lastSentAt = this.now();
    this.send(p).catch(this.onError);
  }
}
