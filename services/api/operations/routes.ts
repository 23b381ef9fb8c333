// /v1/operations: follow long work a create answered with 202. Schemas first;
// handlers call Operations (operations.ts). Another tenant's operation is 404.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Tenancy } from '../tenancy/tenancy.js';
import type { Operations } from './operations.js';
import { MAX_WAIT_SEC, waitMs, type OperationView } from './rules.js';

export const operationSchema = {
  type: 'object',
  required: ['id', 'kind', 'state', 'progress', 'targetId', 'createdAt'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    state: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed'] },
    progress: { type: 'object', properties: { percent: { type: 'integer' }, step: { type: ['string', 'null'] } } },
    targetId: { type: ['string', 'null'] },
    createdAt: { type: 'string' }, updatedAt: { type: 'string' }, startedAt: { type: ['string', 'null'] }, finishedAt: { type: ['string', 'null'] },
    // The created resource's view (a container, a template): its own schema is its route's business.
    result: { type: 'object', additionalProperties: true },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

/** The body of a 202: the operation to follow. */
export const operationEnvelopeSchema = { type: 'object', required: ['operation'], properties: { operation: operationSchema } } as const;

export const getOperationSchema = {
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } },
  querystring: { type: 'object', additionalProperties: false, properties: {
      waitSec: { type: 'integer', minimum: 0, maximum: MAX_WAIT_SEC },
      // The `updatedAt` the client last saw: a long-poll answers at once if the operation has moved on since.
      since: { type: 'string', maxLength: 64 },
    } },
  response: { 200: operationEnvelopeSchema },
} as const;

export const listOperationsSchema = {
  response: { 200: { type: 'object', properties: { operations: { type: 'array', items: operationSchema } } } },
} as const;

/** Answers a create with 202, the operation, and where to follow it. */
export function sendAccepted(reply: FastifyReply, operation: OperationView): FastifyReply {
  return reply.status(202).header('location', `/v1/operations/${operation.id}`).send({ operation });
}

export async function operationRoutes(app: FastifyInstance, opts: { operations: Operations; tenancy: Tenancy }): Promise<void> {
  const { operations, tenancy } = opts;

  app.get<{ Params: { id: string }; Querystring: { waitSec?: number; since?: string } }>('/v1/operations/:id', { schema: getOperationSchema }, async (request) => {
    // By id: an admin key follows any tenant's operation.
    return { operation: await operations.get(await tenancy.scopeOf(request, { byId: true }), request.params.id, waitMs(request.query.waitSec), request.query.since) };
  });

  app.get('/v1/operations', { schema: listOperationsSchema }, async (request) => {
    return { operations: await operations.list(await tenancy.tenantIdOf(request)) };
  });
}
