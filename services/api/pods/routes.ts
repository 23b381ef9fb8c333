// /v1/pods: create (202 with an operation), list, inspect, delete, and a
// resize that is refused for any change (a pod is sized when it is made). Schemas
// first; handlers call Pods. A pod's containers are made with `pod` in
// POST /v1/containers (routes/containers.ts).
import type { FastifyInstance } from 'fastify';
import { NETWORK_NAME_PATTERN } from '../networks/routes.js';
import { operationEnvelopeSchema, sendAccepted } from '../operations/routes.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import type { CreatePodBody, Pods } from './pods.js';
import { POD_BOUNDS } from './rules.js';
import { MAX_POD_FORK_COUNT, type PodForkBody } from './pod-forks.js';
import { snapshotBodySchema } from '../fork/container-snapshots.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

export const podSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, tenantId: { type: 'string' }, name: { type: 'string' }, state: { type: 'string' },
    vcpus: { type: 'integer' }, memoryMib: { type: 'integer' }, pids: { type: 'integer' }, hostId: { type: 'string' },
    network: { type: ['object', 'null'], properties: { id: { type: 'string' }, name: { type: 'string' }, address: { type: ['string', 'null'] } } },
    vm: { type: ['object', 'null'], properties: { id: { type: 'string' }, domainName: { type: 'string' }, state: { type: 'string' } } },
    containers: {
      type: 'array',
      items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, state: { type: 'string' }, memoryMib: { type: 'integer' }, pids: { type: 'integer' } } },
    },
    free: { type: 'object', properties: { memoryMib: { type: 'integer' }, pids: { type: 'integer' } } },
    byDocker: { type: 'boolean' },
    createdAt: { type: 'string' },
  },
} as const;

export const createPodSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' },
      vcpus: { type: 'integer', minimum: POD_BOUNDS.vcpus.min, maximum: POD_BOUNDS.vcpus.max },
      memoryMib: { type: 'integer', minimum: POD_BOUNDS.memoryMib.min, maximum: POD_BOUNDS.memoryMib.max },
      pids: { type: 'integer', minimum: POD_BOUNDS.pids.min, maximum: POD_BOUNDS.pids.max },
      network: { type: 'string', pattern: NETWORK_NAME_PATTERN },
      template: { type: 'string', minLength: 1, maxLength: 48 },
    },
  },
  // The VM is forked after the answer: follow the operation (its result is the pod, as podSchema).
  response: { 202: operationEnvelopeSchema },
} as const;

export const listPodsSchema = { response: { 200: { type: 'object', properties: { pods: { type: 'array', items: podSchema } } } } } as const;
export const getPodSchema = { params: idParams, response: { 200: podSchema } } as const;
export const removePodSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { force: { type: 'boolean' } } },
  response: { 200: podSchema },
} as const;

export const resizePodSchema = {
  summary: 'Resize a pod: refused (409 naming the field) for any change, since a pod is a fork of a template of its size; its own size answers 200',
  params: idParams,
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      vcpus: { type: 'integer', minimum: POD_BOUNDS.vcpus.min, maximum: POD_BOUNDS.vcpus.max },
      memoryMib: { type: 'integer', minimum: POD_BOUNDS.memoryMib.min, maximum: POD_BOUNDS.memoryMib.max },
      pids: { type: 'integer', minimum: POD_BOUNDS.pids.min, maximum: POD_BOUNDS.pids.max },
    },
  },
  response: { 200: podSchema },
} as const;

export const forkPodSchema = {
  summary: 'Fork a running pod into new pods, each a new VM with all its containers, memory and processes included',
  params: idParams,
  body: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      count: { type: 'integer', minimum: 1, maximum: MAX_POD_FORK_COUNT },
      name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' },
    },
  },
  // The operation's result is {pods: [pod…]}.
  response: { 202: operationEnvelopeSchema },
} as const;

export const snapshotPodSchema = {
  summary: 'Freeze a running pod (its VM with every container) into a template that pods are created from (POST /v1/pods with template)',
  params: idParams,
  body: snapshotBodySchema,
  response: { 202: operationEnvelopeSchema },
} as const;

type Id = { Params: { id: string } };

export async function podRoutes(app: FastifyInstance, opts: { pods: Pods; tenancy: Tenancy }): Promise<void> {
  const { pods, tenancy } = opts;

  app.post<{ Body: CreatePodBody }>('/v1/pods', { schema: createPodSchema }, async (request, reply) => {
    return sendAccepted(reply, await pods.create(await tenancy.actorOf(request), request.body));
  });
  app.get('/v1/pods', { schema: listPodsSchema }, async (request) => {
    return { pods: await pods.list(await tenancy.tenantIdOf(request)) };
  });
  app.get<Id>('/v1/pods/:id', { schema: getPodSchema }, async (request) => {
    return pods.get(await tenancy.tenantIdOf(request), request.params.id);
  });
  app.patch<Id & { Body: { vcpus?: number; memoryMib?: number; pids?: number } }>('/v1/pods/:id', { schema: resizePodSchema }, async (request) => {
    return pods.resize(await tenancy.tenantIdOf(request), request.params.id, request.body);
  });
  app.post<Id & { Body: PodForkBody | null }>('/v1/pods/:id/fork', { schema: forkPodSchema }, async (request, reply) => {
    return sendAccepted(reply, await pods.forks!.fork(await tenancy.tenantIdOf(request), request.params.id, request.body ?? {}));
  });
  app.post<Id & { Body: { name: string } }>('/v1/pods/:id/snapshot', { schema: snapshotPodSchema }, async (request, reply) => {
    return sendAccepted(reply, await pods.forks!.snapshot(await tenancy.tenantIdOf(request), request.params.id, request.body.name));
  });
  app.delete<Id & { Querystring: { force?: boolean } }>('/v1/pods/:id', { schema: removePodSchema }, async (request) => {
    return pods.remove(await tenancy.tenantIdOf(request), request.params.id, request.query.force ?? false);
  });
}
