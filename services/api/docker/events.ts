// SEAM: events (issue 14 builds forkd's event stream). Until it is wired,
// GET /events answers 501 at once, so `docker events` and libraries fail
// clearly instead of hanging on a stream that never speaks.
//
// To wire: subscribe to forkd's event stream for the request's tenant, flush a
// 200 (application/json) at once, then write one JSON object a line:
// `{Type, Action, Actor:{ID, Attributes}, scope:'local', time, timeNano}` plus
// the old `status`/`id`/`from` for containers (`die` carries
// Attributes.exitCode); honour `since`, `until` and `filters`
// (filters.ts parseFilters: type, event, container, image, label).
import type { FastifyInstance } from 'fastify';
import { notSupported } from './errors.js';

export async function eventRoutes(app: FastifyInstance): Promise<void> {
  app.get('/events', async () => {
    throw notSupported('the events stream (docker events)', 'it is not wired to forkd\'s event stream yet');
  });
}
