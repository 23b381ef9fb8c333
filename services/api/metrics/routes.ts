// GET /metrics: the Prometheus text format, for an admin key only. It is
// registered inside the authenticated plugin like every /v1 route, so a scrape
// carries `Authorization: Bearer <admin key>` (Prometheus: `authorization:
// { credentials_file: … }`); tenant keys get 403, since the figures are the
// whole host's and every tenant's.
import type { FastifyInstance } from 'fastify';
import { requireAdmin } from '../auth.js';
import type { ApiMetrics } from './api-metrics.js';

export const METRICS_PATH = '/metrics';

export const metricsSchema = {
  description: 'Prometheus metrics (text exposition format 0.0.4) of the API and every live host. Admin key only.',
  tags: ['metrics'],
  response: { 200: { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } } },
} as const;

export async function metricsRoutes(app: FastifyInstance, opts: { metrics: ApiMetrics }): Promise<void> {
  app.get(METRICS_PATH, { schema: metricsSchema }, async (request, reply) => {
    requireAdmin(request);
    const { contentType, body } = await opts.metrics.text();
    return reply.type(contentType).send(body);
  });
}
