// GET /events: forkd's event stream (contracts/events, the same one
// GET /v1/events serves) for the request's tenant, in Docker's shape
// (event-map.ts). The 200 and its headers go out at once, as the CLI expects,
// then one JSON object a line until `until` or the client leaves. A follower
// holds a stream lease like a log follow, so followers count against
// FORKD_STREAMS_PER_TENANT.
import type { FastifyInstance } from 'fastify';
import { lastId, readEvents } from '../../contracts/events/index.js';
import { EVENTS_LEASE_HOST } from '../events/routes.js';
import { tenantOf, type DockerContext } from './context.js';
import { dockerEventMatches, dockerTime, EVENT_FILTER_KEYS, toDockerEvent, type ContainerFacts } from './event-map.js';
import { checkFilterKeys, parseFilters } from './filters.js';

export async function eventRoutes(app: FastifyInstance, ctx: DockerContext): Promise<void> {
  // A follower only ends when its client leaves: on shutdown, end them all first, or closing the server waits for them.
  // Its answer says `connection: close`, so the socket goes with it instead of idling until the server's close has passed it by.
  const followers = new Set<AbortController>();
  app.addHook('preClose', async () => { for (const ac of followers) ac.abort(); });
  app.get<{ Querystring: { since?: string; until?: string; filters?: string } }>('/events', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const filters = parseFilters(request.query.filters);
    checkFilterKeys(filters, EVENT_FILTER_KEYS);
    const since = dockerTime(request.query.since, 'since');
    const until = dockerTime(request.query.until, 'until');
    const lease = await ctx.services.streams.acquire(tenantId, EVENTS_LEASE_HOST);
    // Taken before the headers go out: anything after the client sees them is after this id.
    const start = since === undefined ? { after: await lastId(ctx.services.redis) } : { since };
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', connection: 'close' });
    res.flushHeaders();
    const ac = new AbortController();
    followers.add(ac);
    request.raw.socket.once('close', () => ac.abort());
    try {
      const read = readEvents(ctx.services.redis, { tenantId, ...start, ...(until === undefined ? {} : { until, follow: until > Date.now() }), signal: ac.signal });
      for await (const e of read) {
        const d = toDockerEvent(e, e.type === 'container' ? await factsOf(ctx, e.actor.id) : {});
        if (d && dockerEventMatches(d, filters)) res.write(`${JSON.stringify(d)}\n`);
      }
    } catch (err) {
      if (!ac.signal.aborted) request.log.warn({ err }, 'docker events stream ended by an error');
    } finally {
      followers.delete(ac);
      ac.abort();
      res.end();
      await lease.release();
    }
  });
}

/** The container's image as named and its labels, from its Docker settings (kept past its removal while cached). */
async function factsOf(ctx: DockerContext, containerId: string): Promise<ContainerFacts> {
  await ctx.state.load([containerId]).catch(() => undefined);
  const s = ctx.state.get(containerId);
  return s ? { image: s.image, labels: s.labels } : {};
}
