// Credit-based flow control for one stream channel. The receiver starts by
// allowing LIMITS.initialWindowBytes and sends `credit` frames as its consumer
// drains data; the sender never has more bytes in flight than it was granted.
// A sender that overruns its credit is a protocol violation, which is what
// bounds the memory a peer can make the other side buffer.

import { LIMITS } from './limits.js';

export class SendWindow {
  private credit: number;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(initial: number = LIMITS.initialWindowBytes) {
    this.credit = initial;
  }

  get available(): number {
    return this.credit;
  }

  /** Adds credit granted by the peer; false when the grant would exceed the maximum window. */
  grant(bytes: number): boolean {
    if (this.credit + bytes > LIMITS.maxWindowBytes) return false;
    this.credit += bytes;
    this.wake();
    return true;
  }

  /** Takes up to `want` bytes of credit, waiting until some is available; 0 once closed. */
  async take(want: number): Promise<number> {
    while (this.credit <= 0 && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
    if (this.closed) return 0;
    const n = Math.min(want, this.credit);
    this.credit -= n;
    return n;
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export class RecvWindow {
  private outstanding: number;
  private consumedSinceGrant = 0;

  constructor(private readonly window: number = LIMITS.initialWindowBytes) {
    this.outstanding = window;
  }

  /** Accounts for bytes that arrived; false when the peer sent more than it was allowed. */
  receive(bytes: number): boolean {
    if (bytes > this.outstanding) return false;
    this.outstanding -= bytes;
    return true;
  }

  /**
   * The consumer finished with `bytes`; returns how much credit to grant now
   * (0 to wait: grants are batched at half a window to keep frames few).
   */
  consumed(bytes: number): number {
    this.consumedSinceGrant += bytes;
    if (this.consumedSinceGrant < this.window / 2) return 0;
    const grant = this.consumedSinceGrant;
    this.consumedSinceGrant = 0;
    this.outstanding += grant;
    return grant;
  }
}
