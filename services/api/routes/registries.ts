// Registry routes: pull, push and tag of a tenant's images, and the tenant's
// registry logins. Pull and push answer in one of two ways (docs/images.md
// "Registries"): with `Accept: application/x-ndjson` a 200 stream of
// progress lines ending in a `done` or `error` line; otherwise 202 and an
// operation (docs/operations.md) whose progress names the layer.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ForkdError } from '../../contracts/errors.js';
import type { PullProgress, PushProgress } from '../../../images/registry/index.js';
import type { Operations, ReportProgress } from '../operations/operations.js';
import { operationEnvelopeSchema, sendAccepted } from '../operations/routes.js';
import { view as operationView } from '../operations/rules.js';
import type { Registries } from '../registries.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import { imageSchema } from './images.js';

const refProp = { type: 'string', minLength: 1, maxLength: 512 } as const;
const credentialSchema = {
  type: 'object',
  properties: { registry: { type: 'string' }, username: { type: 'string' }, createdAt: { type: 'string' }, updatedAt: { type: 'string' } },
} as const;

export const pullImageSchema = {
  body: { type: 'object', required: ['ref'], additionalProperties: false, properties: { ref: refProp, insecure: { type: 'boolean' } } },
  response: { 202: operationEnvelopeSchema },
} as const;

export const pushImageSchema = pullImageSchema;

export const tagImageSchema = {
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 512 } } },
  body: { type: 'object', required: ['ref'], additionalProperties: false, properties: { ref: refProp } },
  response: { 201: { type: 'object', properties: { image: imageSchema } } },
} as const;

export const loginSchema = {
  body: {
    type: 'object',
    required: ['registry', 'username', 'password'],
    additionalProperties: false,
    properties: { registry: { type: 'string', minLength: 1, maxLength: 255 }, username: { type: 'string', minLength: 1, maxLength: 255 }, password: { type: 'string', minLength: 1, maxLength: 8192 } },
  },
  response: { 201: { type: 'object', properties: { credential: credentialSchema } } },
} as const;

export const listLoginsSchema = { response: { 200: { type: 'object', properties: { credentials: { type: 'array', items: credentialSchema } } } } } as const;

export const logoutSchema = {
  params: { type: 'object', required: ['registry'], properties: { registry: { type: 'string', minLength: 1, maxLength: 255 } } },
  response: { 200: { type: 'object', properties: { deleted: credentialSchema } } },
} as const;

export interface RegistryRouteOptions {
  registries: Registries;
  operations: Operations;
  tenancy: Tenancy;
}

function wantsNdjson(request: FastifyRequest): boolean {
  return /application\/x-ndjson/.test(String(request.headers.accept ?? ''));
}

/** Operation progress from layer events: percent by layers finished, step naming the layer. */
function reportLayers(report: ReportProgress): (e: PullProgress | PushProgress) => void {
  return (e) => {
    if (e.kind !== 'layer') return;
    const finished = ['exists', 'verified', 'pushed'].includes(e.status);
    report({ percent: Math.min(99, Math.floor(((e.layer - (finished ? 0 : 1)) / e.count) * 100)), step: `layer ${e.layer}/${e.count} ${e.status}` });
  };
}

/**
 * NDJSON: one progress event a line, then `{"kind":"done",...}` or
 * `{"kind":"error","error":{code,message,field}}`. Errors found before the
 * work (a malformed ref) are ordinary 4xx answers, not stream lines.
 */
async function streamWork(request: FastifyRequest, reply: FastifyReply, work: (emit: (e: object) => void) => Promise<object>): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  const emit = (e: object): void => {
    if (!res.writableEnded) res.write(`${JSON.stringify(e)}\n`);
  };
  try {
    emit({ kind: 'done', ...(await work(emit)) });
  } catch (err) {
    const e = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String((err as Error)?.message ?? err));
    if (!(err instanceof ForkdError)) request.log.error({ err }, 'registry stream failed');
    emit({ kind: 'error', ...e.toJSON() });
  } finally {
    res.end();
  }
}

export async function registryRoutes(app: FastifyInstance, opts: RegistryRouteOptions): Promise<void> {
  const { registries, operations, tenancy } = opts;

  app.post<{ Body: { ref: string; insecure?: boolean } }>('/v1/images/pull', { schema: pullImageSchema }, async (request, reply) => {
    const tenantId = await tenancy.tenantIdOf(request);
    const { ref, insecure = false } = request.body;
    registries.check(ref);
    if (wantsNdjson(request)) {
      return streamWork(request, reply, async (emit) => ({ image: await registries.pull(tenantId, ref, insecure, emit) }));
    }
    const op = await operations.start({ tenantId, hostId: null, kind: 'image.pull', targetId: ref, step: 'resolving' });
    operations.run(op, async (report) => ({ image: await registries.pull(tenantId, ref, insecure, reportLayers(report)) }));
    return sendAccepted(reply, operationView(op));
  });

  app.post<{ Body: { ref: string; insecure?: boolean } }>('/v1/images/push', { schema: pushImageSchema }, async (request, reply) => {
    const tenantId = await tenancy.tenantIdOf(request);
    const { ref, insecure = false } = request.body;
    registries.check(ref);
    if (wantsNdjson(request)) {
      return streamWork(request, reply, async (emit) => ({ pushed: await registries.push(tenantId, ref, insecure, emit) }));
    }
    const op = await operations.start({ tenantId, hostId: null, kind: 'image.push', targetId: ref, step: 'starting' });
    operations.run(op, async (report) => ({ pushed: await registries.push(tenantId, ref, insecure, reportLayers(report)) }));
    return sendAccepted(reply, operationView(op));
  });

  app.post<{ Params: { id: string }; Body: { ref: string } }>('/v1/images/:id/tag', { schema: tagImageSchema }, async (request, reply) => {
    const image = await registries.tag(await tenancy.tenantIdOf(request), request.params.id, request.body.ref);
    return reply.status(201).send({ image });
  });

  app.post<{ Body: { registry: string; username: string; password: string } }>('/v1/registries/credentials', { schema: loginSchema }, async (request, reply) => {
    const credential = await registries.login(await tenancy.tenantIdOf(request), request.body);
    return reply.status(201).send({ credential });
  });

  app.get('/v1/registries/credentials', { schema: listLoginsSchema }, async (request) => {
    return { credentials: await registries.list(await tenancy.tenantIdOf(request)) };
  });

  app.delete<{ Params: { registry: string } }>('/v1/registries/credentials/:registry', { schema: logoutSchema }, async (request) => {
    return { deleted: await registries.logout(await tenancy.tenantIdOf(request), request.params.registry) };
  });
}
