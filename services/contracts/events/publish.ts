// Appending events: XADD with an approximate MAXLEN, so the stream keeps about
// `retain` events and Redis trims whole nodes cheaply. Publishing is best
// effort for callers (EventPublisher never throws): an event lost to a Redis
// hiccup must not fail the create or destroy it reports.
import type { Redis } from 'ioredis';
import { DEFAULT_EVENTS_RETAIN, EVENTS_STREAM_KEY, type NewEvent } from './event.js';

/** Appends one event and answers its id. Throws what Redis throws. */
export async function publishEvent(redis: Redis, event: NewEvent, retain: number = DEFAULT_EVENTS_RETAIN): Promise<string> {
  const body = JSON.stringify({ type: event.type, action: event.action, tenantId: event.tenantId, actor: event.actor });
  const id = await redis.xadd(EVENTS_STREAM_KEY, 'MAXLEN', '~', String(retain), '*', 'e', body);
  return id as string;
}

export interface EventPublisherOptions {
  /** FORKD_EVENTS_RETAIN. */
  retain?: number;
  /** Where a failed publish is reported. */
  warn?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Called after each event is appended (metrics count them here). */
  onPublished?: (event: NewEvent) => void;
}

/** The publisher hostd and the API hold: one Redis connection, one retention. */
export class EventPublisher {
  constructor(private readonly redis: Redis, private readonly opts: EventPublisherOptions = {}) {}

  /** Appends the event; a failure is logged, never thrown. Answers the id, or null when it was lost. */
  async publish(event: NewEvent): Promise<string | null> {
    try {
      const id = await publishEvent(this.redis, event, this.opts.retain ?? DEFAULT_EVENTS_RETAIN);
      this.opts.onPublished?.(event);
      return id;
    } catch (err) {
      this.opts.warn?.('could not publish an event (it is lost; the operation itself went on)', { type: event.type, action: event.action, actor: event.actor.id, error: String(err) });
      return null;
    }
  }
}

/** A publisher that drops everything: for tests and callers built without Redis. */
export const NO_EVENTS = { publish: async () => null } as unknown as EventPublisher;
