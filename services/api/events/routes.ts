// GET /v1/events: lifecycle events as they happen, NDJSON by default or
// Server-Sent Events when the client accepts text/event-stream (each with
// `id:`, so a reconnect's Last-Event-ID resumes after it). A tenant key sees
// its tenant's events; an admin key sees every tenant's unless it names one.
// A follower holds a stream lease like a log follow (streams/), so followers
// count against FORKD_STREAMS_PER_TENANT.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { EVENT_ID_PATTERN, EVENT_TYPES, isEventId, lastId, readEvents, type EventFilters, type ForkdEvent } from '../../contracts/events/index.js';
import { ForkdError } from '../../contracts/errors.js';
import type { PrismaClient } from '../db/client.js';
import type { StreamLimiter } from '../streams/stream-limiter.js';
import { resolveScope, tenantQueryProperties, type TenantQuery } from '../tenancy/scope.js';
import type { Tenancy } from '../tenancy/tenancy.js';

/** Events leases count per tenant like every stream; their "host" is this pseudo-host, since no one host serves them. */
export const EVENTS_LEASE_HOST = 'events';

/** An SSE comment this often keeps proxies from closing an idle follower. */
const SSE_KEEPALIVE_MS = 15_000;

/** A point in the stream: an event id (resume after it), a time in ms since the epoch, or an RFC 3339 date. */
const pointSchema = { type: 'string', maxLength: 64, description: `An event id (${EVENT_ID_PATTERN}; the answer starts after it), milliseconds since the epoch, or an RFC 3339 date.` } as const;

export const eventSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, time: { type: 'integer' }, type: { type: 'string', enum: [...EVENT_TYPES] }, action: { type: 'string' }, tenantId: { type: 'string' },
    actor: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, attributes: { type: 'object', additionalProperties: { type: 'string' } } } },
  },
} as const;

export const eventsSchema = {
  description: 'Lifecycle events (container, vm, template, image, network, volume): `application/x-ndjson` one event a line, or `text/event-stream` when the client accepts it. Without `until` the answer follows new events until the client leaves.',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      since: pointSchema,
      until: pointSchema,
      // Docker's form: a JSON object of lists, e.g. {"type":["container"],"action":["die"]}.
      filters: { type: 'string', maxLength: 4096, description: 'JSON: {"type":[…],"action":[…],"actor":[id or name…]}; OR within a list, AND across lists.' },
      ...tenantQueryProperties,
    },
  },
  response: { 200: { description: 'A stream of events, each as below.', content: { 'application/x-ndjson': { schema: eventSchema }, 'text/event-stream': { schema: { type: 'string' } } } } },
} as const;

type Query = { since?: string; until?: string; filters?: string } & TenantQuery;

export interface EventRouteOptions {
  redis: Redis;
  db: PrismaClient;
  tenancy: Tenancy;
  streams: StreamLimiter;
}

export async function eventRoutes(app: FastifyInstance, opts: EventRouteOptions): Promise<void> {
  // A follower only ends when its client leaves: on shutdown, end them all first, or closing the server waits for them.
  // Its answer says `connection: close`, so the socket goes with it instead of idling until the server's close has passed it by.
  const followers = new Set<AbortController>();
  app.addHook('preClose', async () => { for (const ac of followers) ac.abort(); });
  app.get<{ Querystring: Query }>('/v1/events', { schema: eventsSchema }, async (request, reply) => {
    const actor = await opts.tenancy.actorOf(request);
    const q = request.query;
    // An admin follows every tenant unless it names one.
    const scope = await resolveScope(opts.db, actor, q, { byId: true });
    const filters = parseFilters(q.filters);
    const since = parsePoint(q.since, 'since');
    const until = parsePoint(q.until, 'until');
    if (until && 'after' in until) throw new ForkdError('ERR_VALIDATION', 'until must be a time, not an event id', { field: 'until' });
    const lastEventId = request.headers['last-event-id'];
    const resume = typeof lastEventId === 'string' && isEventId(lastEventId) ? { after: lastEventId } : since;
    const sse = (request.headers.accept ?? '').includes('text/event-stream');
    const lease = await opts.streams.acquire(actor.tenantId, EVENTS_LEASE_HOST);
    try {
      // Taken before the answer starts: whatever happens after the client sees the headers is in the stream after this id.
      const start = resume ?? { after: await lastId(opts.redis) };
      await streamEvents(request, reply, sse, followers, readEvents.bind(null, opts.redis), {
        tenantId: 'all' in scope ? 'all' : scope.tenantId, filters, ...start, ...(until ? { until: until.since } : {}),
      });
    } finally {
      await lease.release();
    }
  });
}

type Read = (o: Parameters<typeof readEvents>[1]) => AsyncGenerator<ForkdEvent>;

async function streamEvents(request: FastifyRequest, reply: FastifyReply, sse: boolean, followers: Set<AbortController>, read: Read, o: Omit<Parameters<typeof readEvents>[1], 'signal'>): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': sse ? 'text/event-stream' : 'application/x-ndjson', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'close' });
  res.flushHeaders();
  const ac = new AbortController();
  followers.add(ac);
  request.raw.socket.once('close', () => ac.abort());
  const keepalive = sse ? setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS) : undefined;
  try {
    for await (const e of read({ ...o, signal: ac.signal })) {
      res.write(sse ? `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n` : `${JSON.stringify(e)}\n`);
    }
  } catch (err) {
    if (!ac.signal.aborted) request.log.warn({ err }, 'events stream ended by an error');
  } finally {
    if (keepalive) clearInterval(keepalive);
    followers.delete(ac);
    ac.abort();
    res.end();
  }
}

/** `since`/`until`: an event id (resume after it) or a time. ERR_VALIDATION naming the field otherwise. */
export function parsePoint(raw: string | undefined, field: string): { after: string } | { since: number } | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (isEventId(raw)) return { after: raw };
  const ms = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms)) throw new ForkdError('ERR_VALIDATION', `${field} must be an event id, milliseconds since the epoch or an RFC 3339 date (got ${JSON.stringify(raw)})`, { field });
  return { since: ms };
}

export function parseFilters(raw: string | undefined): EventFilters {
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ForkdError('ERR_VALIDATION', 'filters must be JSON, e.g. {"type":["container"]}', { field: 'filters' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ForkdError('ERR_VALIDATION', 'filters must be a JSON object of lists', { field: 'filters' });
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (k !== 'type' && k !== 'action' && k !== 'actor') throw new ForkdError('ERR_VALIDATION', `unknown filter ${JSON.stringify(k)} (type, action, actor)`, { field: 'filters' });
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ForkdError('ERR_VALIDATION', `filter ${k} must be a list of strings`, { field: 'filters' });
    out[k] = v;
  }
  return out;
}
