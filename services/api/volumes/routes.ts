// /v1/volumes: create, list, inspect, delete. Schemas first; handlers call
// Volumes (the rules and the rows).
import type { FastifyInstance } from 'fastify';
import { VOLUME_SIZE_MIB } from '../../contracts/jobs.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import { VOLUME_NAME_PATTERN } from './rules.js';
import type { CreateVolumeBody, Volumes } from './volumes.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

export const volumeSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, sizeMib: { type: 'integer' }, hostId: { type: 'string' },
    labels: { type: 'object', additionalProperties: { type: 'string' } }, createdAt: { type: 'string' },
    attachedTo: { type: ['object', 'null'], properties: { containerId: { type: 'string' }, containerName: { type: 'string' }, vmId: { type: 'string' } } },
  },
} as const;

export const createVolumeSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', pattern: VOLUME_NAME_PATTERN },
      sizeMib: { type: 'integer', minimum: VOLUME_SIZE_MIB.min, maximum: VOLUME_SIZE_MIB.max },
      labels: { type: 'object', maxProperties: 64, additionalProperties: { type: 'string', maxLength: 4096 } },
    },
  },
  response: { 201: volumeSchema },
} as const;

export const listVolumesSchema = {
  response: { 200: { type: 'object', properties: { volumes: { type: 'array', items: volumeSchema } } } },
} as const;

export const getVolumeSchema = { params: idParams, response: { 200: volumeSchema } } as const;

type Id = { Params: { id: string } };

export async function volumeRoutes(app: FastifyInstance, opts: { volumes: Volumes; tenancy: Tenancy }): Promise<void> {
  const { volumes, tenancy } = opts;

  app.post<{ Body: CreateVolumeBody }>('/v1/volumes', { schema: createVolumeSchema }, async (request, reply) => {
    return reply.status(201).send(await volumes.create(await tenancy.tenantIdOf(request), request.body));
  });
  app.get('/v1/volumes', { schema: listVolumesSchema }, async (request) => {
    return { volumes: await volumes.list(await tenancy.tenantIdOf(request)) };
  });
  app.get<Id>('/v1/volumes/:id', { schema: getVolumeSchema }, async (request) => {
    return volumes.get(await tenancy.tenantIdOf(request), request.params.id);
  });
  app.delete<Id>('/v1/volumes/:id', { schema: getVolumeSchema }, async (request) => {
    return volumes.remove(await tenancy.tenantIdOf(request), request.params.id);
  });
}
