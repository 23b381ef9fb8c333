import type { FastifyInstance } from 'fastify';

export const healthSchema = {
  response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } },
} as const;

/** Liveness only: answers without auth and without touching hosts or the database. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', { schema: healthSchema }, async () => ({ ok: true }));
}
