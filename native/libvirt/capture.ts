// Pairs the libvirt errors our handler copied (ffi.ts) with the calls that
// failed. Each call takes a ticket when it starts; the handler records a copy
// under the scope it was dispatched on (the connection's token from
// virConnSetErrorFunc userData, 0 for failures without a connection such as
// virConnectOpen); a call that returned failure claims the oldest copy of its
// scope recorded after its ticket. The handler always runs before the failing
// call's completion (koffi holds the failing thread until the handler
// returns), so the copy is there when the call claims it. The pairing is exact
// because call.ts keeps at most one call in flight per scope (see the comment
// there for why).
import type { RawLibvirtError } from './errors.js';

interface Entry {
  seq: number;
  scope: number;
  error: RawLibvirtError;
}

export interface Ticket {
  readonly seq: number;
  readonly scope: number;
}

/** Entries kept at most, even while calls are in flight (a guard, not a working limit). */
const MAX_ENTRIES = 1024;

export class ErrorLedger {
  private seq = 0;
  private entries: Entry[] = [];
  private readonly inFlight = new Set<Ticket>();

  /** A call on `scope` (connection token, 0 for none) is about to start. */
  begin(scope: number): Ticket {
    const ticket: Ticket = { seq: ++this.seq, scope };
    this.inFlight.add(ticket);
    return ticket;
  }

  /** libvirt dispatched an error on `scope` (called from the error handler). */
  record(scope: number, error: RawLibvirtError): void {
    this.entries.push({ seq: ++this.seq, scope, error });
    if (this.entries.length > MAX_ENTRIES) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
  }

  /**
   * The call holding `ticket` failed: take its error. Looks in the call's own
   * scope, then among connection-less errors (libvirt dispatches a few
   * failures without a connection) unless a connection-less call could own them.
   */
  claim(ticket: Ticket): RawLibvirtError | null {
    const own = this.take(ticket.scope, ticket.seq);
    if (own !== null || ticket.scope === 0) return own;
    for (const t of this.inFlight) if (t.scope === 0) return null;
    return this.take(0, ticket.seq);
  }

  private take(scope: number, after: number): RawLibvirtError | null {
    const i = this.entries.findIndex((e) => e.scope === scope && e.seq > after);
    if (i < 0) return null;
    const [entry] = this.entries.splice(i, 1);
    return entry!.error;
  }

  /** The call holding `ticket` finished (after `claim`, if it failed). */
  end(ticket: Ticket): void {
    this.inFlight.delete(ticket);
    // Errors older than every call still in flight can belong to no one.
    let oldest = Infinity;
    for (const t of this.inFlight) oldest = Math.min(oldest, t.seq);
    if (oldest === Infinity) this.entries = [];
    else if (this.entries.length > 0 && this.entries[0]!.seq < oldest) {
      this.entries = this.entries.filter((e) => e.seq > oldest);
    }
  }

  /** For tests and diagnostics. */
  get size(): { entries: number; inFlight: number } {
    return { entries: this.entries.length, inFlight: this.inFlight.size };
  }
}
