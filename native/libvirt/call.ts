// How every libvirt call is made: on the libuv pool through koffi's `.async`,
// one at a time per connection, with a failure turned into a LibvirtError
// built from the error libvirt dispatched on the failing thread.
//
// Why one at a time per connection (a Lane): libvirt's last error is
// thread-local, koffi runs each `.async` call on whichever pool thread is free,
// and JS cannot chain two C calls on one pool thread, so a follow-up
// `virGetLastError.async()` may read another thread's error, or none. What does
// run on the failing thread is libvirt's error dispatch: a failing public API
// calls the connection's error handler (virConnSetErrorFunc) on its own thread
// before it returns. Our handler is koffi-registered: koffi relays it to the
// main thread and holds the failing thread until it returns, so ffi.ts copies
// that thread's `virError` while it is still valid (this also stops libvirt
// printing to stderr). The handler learns *which connection* failed (its
// userData), not which call; with at most one call in flight per connection the
// pairing is exact. (A FIFO pairing across concurrent calls was tried: under
// load it swaps messages between calls. A C shim that calls virSaveLastError
// in the same work item would lift the restriction, at the price of a compiler
// on every host.) Parallelism therefore comes from several Connections: hostd
// opens one per concurrent job slot.
import { ErrorLedger, type Ticket } from './capture.js';
import { LibvirtError } from './errors.js';
import { installErrorHandler, registerEventImpl, type LibvirtFunction } from './ffi.js';
import { processSingleton } from './singleton.js';

// One ledger and one scope counter per process: libvirt has one global error handler.
const shared = processSingleton('calls/1', () => {
  const ledger = new ErrorLedger();
  installErrorHandler((scope, error) => ledger.record(scope, error));
  registerEventImpl();
  return { ledger, nextScope: 1, openLane: null as Lane | null };
});
const ledger = shared.ledger;

export interface CallOptions<R> {
  /** libvirt function name, for the error message. */
  op: string;
  /** How this function reports failure (NULL, -1, ...). */
  failed: (result: R) => boolean;
  duringOpen?: boolean;
}

export const isNull = (r: unknown): boolean => r === null || r === 0n;
export const isNegative = (r: unknown): boolean => (r as number) < 0;

/** Scope for calls whose errors are never claimed (the event loop). */
const UNSCOPED = -1;

function invoke<R>(fn: LibvirtFunction, args: unknown[], scope: number, opts: CallOptions<R>): Promise<R> {
  const ticket: Ticket | null = scope === UNSCOPED ? null : ledger.begin(scope);
  const finish = (): void => {
    if (ticket !== null) ledger.end(ticket);
  };
  return new Promise<R>((resolve, reject) => {
    try {
      fn.async(...args, (err: unknown, result: R) => {
        try {
          if (err) reject(err);
          else if (opts.failed(result)) {
            const raw = ticket === null ? null : ledger.claim(ticket);
            reject(new LibvirtError(opts.op, raw, { duringOpen: opts.duringOpen ?? false }));
          } else resolve(result);
        } finally {
          finish();
        }
      });
    } catch (err) {
      finish();
      reject(err);
    }
  });
}

/** A queue of libvirt calls whose errors dispatch under one scope: one call in flight at a time. */
export class Lane {
  #tail: Promise<unknown> = Promise.resolve();
  constructor(readonly scope: number) {}

  /** Queue `fn(...args)` behind this lane's calls; it runs on a libuv pool thread. */
  call<R>(fn: LibvirtFunction, args: unknown[], opts: CallOptions<R>): Promise<R> {
    const run = (): Promise<R> => invoke(fn, args, this.scope, opts);
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }
}

/** Calls made before there is a connection (virConnectOpen): errors dispatch without one, scope 0. */
export const openLane: Lane = (shared.openLane ??= new Lane(0));

export function newConnectionLane(): Lane {
  return new Lane(shared.nextScope++);
}

/** Run a call that reports no attributable error and must not wait behind a lane (event loop iterations). */
export function callUnscoped<R>(fn: LibvirtFunction, args: unknown[], opts: CallOptions<R>): Promise<R> {
  return invoke(fn, args, UNSCOPED, opts);
}

/** For tests: the ledger must be empty once no call is in flight. */
export function ledgerSize(): { entries: number; inFlight: number } {
  return ledger.size;
}
