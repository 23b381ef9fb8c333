// Admin only: run a reconcile round now and see what it did (the loop runs
// one every FORKD_RECONCILE_INTERVAL_MS anyway).
import type { FastifyInstance } from 'fastify';
import { requireAdmin } from '../auth.js';
import type { Reconciler } from './reconciler.js';

const ids = { type: 'array', items: { type: 'string' } } as const;
export const reconcileSchema = {
  response: {
    200: {
      type: 'object',
      required: ['at', 'hosts'],
      properties: {
        at: { type: 'string' },
        hosts: {
          type: 'array',
          items: {
            type: 'object',
            properties: { hostId: { type: 'string' }, error: { type: 'string' }, lost: ids, destroyed: ids, destroyFailed: ids, waiting: ids },
          },
        },
      },
    },
  },
} as const;

export async function reconcileRoutes(app: FastifyInstance, opts: { reconciler: Reconciler }): Promise<void> {
  app.post('/v1/admin/reconcile', { schema: reconcileSchema }, async (request) => {
    requireAdmin(request);
    return opts.reconciler.reconcile();
  });
}
