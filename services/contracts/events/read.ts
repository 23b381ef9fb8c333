// Reading events: history first (XRANGE from where the reader resumes), then
// following new ones (XREAD BLOCK on a connection of its own, since a blocked
// connection can do nothing else). The follow starts from the last id the
// history saw, or from the stream's last id taken before anything else, so no
// event falls between the two.
import type { Redis } from 'ioredis';
import { EVENTS_STREAM_KEY, timeOfId, type ForkdEvent, type NewEvent } from './event.js';
import { eventMatches, type EventFilters, type EventScope } from './filters.js';

export interface ReadEventsOptions {
  /** A tenant's id (its events only) or 'all' (admin keys: every tenant's). */
  tenantId: EventScope;
  /** Resume after this event id (exclusive): a reconnecting client's last id (SSE Last-Event-ID). */
  after?: string;
  /** Start at this time, ms since the epoch (inclusive). Ignored when `after` is given. Neither: only new events. */
  since?: number;
  /** Stop after this time, ms (inclusive). In the past: history only, then the iterator ends. */
  until?: number;
  filters?: EventFilters;
  /** Ends the iterator (the follow's blocked read is cut at once). */
  signal?: AbortSignal;
  /** Follow new events after the history (default true). */
  follow?: boolean;
  /** How long one blocked read waits before checking `until` again (default 5000 ms). */
  blockMs?: number;
}

const BATCH = 500;

/** The events a reader may see, oldest first; an async iterator that ends on `signal`, `until` or (follow false) the end of history. */
export async function* readEvents(redis: Redis, opts: ReadEventsOptions): AsyncGenerator<ForkdEvent> {
  const { signal, until } = opts;
  const keep = (e: ForkdEvent | null): e is ForkdEvent => e !== null && eventMatches(e, opts.tenantId, opts.filters);
  // Where the follow resumes if the history sees nothing: taken first, so events published meanwhile are read.
  let last = opts.after ?? (await lastId(redis));
  if (opts.after !== undefined || opts.since !== undefined) {
    let start = opts.after !== undefined ? `(${opts.after}` : String(opts.since);
    const end = until === undefined ? '+' : String(until);
    for (;;) {
      if (signal?.aborted) return;
      const batch = (await redis.xrange(EVENTS_STREAM_KEY, start, end, 'COUNT', BATCH)) as [string, string[]][];
      for (const [id, fields] of batch) {
        last = id;
        const e = decode(id, fields);
        if (keep(e)) yield e;
      }
      if (batch.length < BATCH) break;
      start = `(${last}`;
    }
  }
  if (opts.follow === false || (until !== undefined && until < Date.now())) return;
  const reader = redis.duplicate();
  const stop = () => reader.disconnect();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    while (!signal?.aborted) {
      if (until !== undefined && Date.now() > until) return;
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await reader.xread('COUNT', BATCH, 'BLOCK', opts.blockMs ?? 5000, 'STREAMS', EVENTS_STREAM_KEY, last)) as typeof reply;
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          last = id;
          if (until !== undefined && timeOfId(id) > until) return;
          const e = decode(id, fields);
          if (keep(e)) yield e;
        }
      }
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    reader.disconnect();
  }
}

/**
 * The stream's newest id, or `0-0` when it is empty (the follow then reads
 * from its start). A server that must not miss what happens after it answered
 * a client takes this before answering and reads with `after` set to it.
 */
export async function lastId(redis: Redis): Promise<string> {
  const newest = (await redis.xrevrange(EVENTS_STREAM_KEY, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return newest[0]?.[0] ?? '0-0';
}

/** An entry as published (publish.ts); anything else in the stream is skipped, not fatal. */
function decode(id: string, fields: string[]): ForkdEvent | null {
  const i = fields.indexOf('e');
  if (i < 0 || i + 1 >= fields.length) return null;
  try {
    const body = JSON.parse(fields[i + 1]!) as NewEvent;
    if (typeof body?.type !== 'string' || typeof body.tenantId !== 'string' || typeof body.actor?.id !== 'string') return null;
    return { id, time: timeOfId(id), type: body.type, action: body.action, tenantId: body.tenantId, actor: { ...body.actor, attributes: body.actor.attributes ?? {} } };
  } catch {
    return null;
  }
}
