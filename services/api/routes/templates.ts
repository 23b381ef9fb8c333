// /v1/templates (build, list, show with its warm pool, resize the pool, delete)
// and /v1/vms (fork a VM from a template, list, show, destroy).
import { tenantQueryProperties } from '../tenancy/scope.js';
import type { FastifyInstance } from 'fastify';
import { NETWORK_NAME_PATTERN } from '../networks/routes.js';
import { operationEnvelopeSchema, sendAccepted } from '../operations/routes.js';
import type { CreateTemplateBody, Templates } from '../templates.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import type { Vms } from '../vms.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;
const poolSchema = { type: ['object', 'null'], properties: { target: { type: 'integer' }, ready: { type: 'integer' }, starting: { type: 'integer' } } } as const;

const templateSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, hostId: { type: 'string' }, image: { type: ['string', 'null'] }, vcpus: { type: 'integer' }, memoryMib: { type: 'integer' },
    accel: { type: 'string' }, qemuVersion: { type: 'string' }, machineType: { type: 'string' }, state: { type: 'string' }, poolSize: { type: 'integer' },
    pool: poolSchema, files: { type: ['object', 'null'], additionalProperties: true }, error: { type: ['string', 'null'] },
    createdAt: { type: 'string' }, readyAt: { type: ['string', 'null'] }, vms: { type: 'integer' },
    kind: { type: 'string' },
    origin: { type: ['object', 'null'], properties: { containerId: { type: 'string' }, name: { type: 'string' }, takenAt: { type: 'string' } } },
  },
} as const;

const vmSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, tenantId: { type: 'string' }, hostId: { type: 'string' }, template: { type: ['string', 'null'] }, domainName: { type: 'string' }, boot: { type: 'string' },
    state: { type: 'string' }, vcpus: { type: 'integer' }, memoryMib: { type: 'integer' }, containers: { type: 'integer' }, createdAt: { type: 'string' },
    network: { type: ['object', 'null'], properties: { id: { type: 'string' }, name: { type: 'string' }, address: { type: 'string' } } },
    timings: { type: 'object', additionalProperties: { type: 'number' } },
  },
} as const;

export const createTemplateSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      image: { type: ['string', 'null'], minLength: 1, maxLength: 300 },
      vcpus: { type: 'integer', minimum: 1, maximum: 64 },
      memoryMib: { type: 'integer', minimum: 128, maximum: 262144 },
      poolSize: { type: 'integer', minimum: 0, maximum: 256 },
      containers: {
        type: 'array',
        maxItems: 16,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['command'],
          properties: {
            command: { type: 'array', minItems: 1, maxItems: 1024, items: { type: 'string', maxLength: 32768 } },
            env: { type: 'array', maxItems: 1024, items: { type: 'string', pattern: '^[^=]+=' } },
            workingDir: { type: 'string', pattern: '^/' },
          },
        },
      },
    },
  },
  // The build goes on after the answer: follow the operation (its result is the template, as templateSchema).
  response: { 202: operationEnvelopeSchema },
} as const;

export const patchTemplateSchema = {
  params: idParams,
  body: { type: 'object', additionalProperties: false, required: ['poolSize'], properties: { poolSize: { type: 'integer', minimum: 0, maximum: 256 } } },
  response: { 200: templateSchema },
} as const;

export const forkVmSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['template'],
    properties: { template: { type: 'string', minLength: 1, maxLength: 128 }, pool: { type: 'boolean' }, network: { type: 'string', pattern: NETWORK_NAME_PATTERN } },
  },
  response: { 201: vmSchema },
} as const;

type Id = { Params: { id: string } };

export async function templateRoutes(app: FastifyInstance, opts: { templates: Templates; vms: Vms; tenancy: Tenancy }): Promise<void> {
  const { templates, vms, tenancy } = opts;

  app.post<{ Body: CreateTemplateBody }>('/v1/templates', { schema: createTemplateSchema }, async (request, reply) => {
    return sendAccepted(reply, await templates.create(await tenancy.actorOf(request), request.body));
  });
  app.get('/v1/templates', { schema: { response: { 200: { type: 'object', properties: { templates: { type: 'array', items: templateSchema } } } } } }, async (request) => {
    return { templates: await templates.list(await tenancy.actorOf(request)) };
  });
  app.get<Id>('/v1/templates/:id', { schema: { params: idParams, response: { 200: templateSchema } } }, async (request) => {
    return templates.get(await tenancy.actorOf(request), request.params.id);
  });
  app.patch<Id & { Body: { poolSize: number } }>('/v1/templates/:id', { schema: patchTemplateSchema }, async (request) => {
    return templates.setPool(await tenancy.actorOf(request), request.params.id, request.body.poolSize);
  });
  app.delete<Id>('/v1/templates/:id', { schema: { params: idParams, response: { 200: templateSchema } } }, async (request) => {
    return templates.remove(await tenancy.actorOf(request), request.params.id);
  });

  app.post<{ Body: { template: string; pool?: boolean; network?: string } }>('/v1/vms', { schema: forkVmSchema }, async (request, reply) => {
    return reply.status(201).send(await vms.fork(await tenancy.actorOf(request), request.body.template, request.body.pool ?? true, request.body.network));
  });
  app.get('/v1/vms', { schema: { querystring: { type: 'object', additionalProperties: false, properties: tenantQueryProperties }, response: { 200: { type: 'object', properties: { vms: { type: 'array', items: vmSchema } } } } } }, async (request) => {
    return { vms: await vms.list(await tenancy.scopeOf(request)) };
  });
  app.get<Id>('/v1/vms/:id', { schema: { params: idParams, response: { 200: vmSchema } } }, async (request) => {
    return vms.view(await vms.row(await tenancy.scopeOf(request, { byId: true }), request.params.id));
  });
  app.delete<Id>('/v1/vms/:id', { schema: { params: idParams, response: { 200: vmSchema } } }, async (request) => {
    return vms.remove(await tenancy.scopeOf(request, { byId: true }), request.params.id);
  });
}
