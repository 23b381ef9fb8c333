// /v1/networks: create, list, inspect (with the containers on it), delete.
// Schemas first; handlers call Networks (the rules).
import { tenantQueryProperties } from '../tenancy/scope.js';
import type { FastifyInstance } from 'fastify';
import type { Tenancy } from '../tenancy/tenancy.js';
import type { CreateNetworkBody, Networks } from './networks.js';

/** Network names, like container names. */
export const NETWORK_NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

export const networkSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, tenantId: { type: 'string' }, name: { type: 'string' }, subnet: { type: 'string' }, gateway: { type: 'string' }, internal: { type: 'boolean' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    hostId: { type: ['string', 'null'] }, createdAt: { type: 'string' },
    containers: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, address: { type: 'string' } } } },
    vms: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, address: { type: 'string' } } } },
  },
} as const;

export const createNetworkSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', pattern: NETWORK_NAME_PATTERN },
      // Only a length bound here: ipam.ts says what is wrong with a subnet (unaligned, reserved, …) better than a pattern could.
      subnet: { type: 'string', minLength: 1, maxLength: 64 },
      internal: { type: 'boolean' },
      labels: { type: 'object', maxProperties: 64, additionalProperties: { type: 'string', maxLength: 4096 } },
    },
  },
  response: { 201: networkSchema },
} as const;

export const listNetworksSchema = {
  querystring: { type: 'object', additionalProperties: false, properties: tenantQueryProperties },
  response: { 200: { type: 'object', properties: { networks: { type: 'array', items: networkSchema } } } },
} as const;

export const getNetworkSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { tenant: tenantQueryProperties.tenant } },
  response: { 200: networkSchema },
} as const;

type Id = { Params: { id: string } };

export async function networkRoutes(app: FastifyInstance, opts: { networks: Networks; tenancy: Tenancy }): Promise<void> {
  const { networks, tenancy } = opts;

  app.post<{ Body: CreateNetworkBody }>('/v1/networks', { schema: createNetworkSchema }, async (request, reply) => {
    return reply.status(201).send(await networks.create(await tenancy.tenantIdOf(request), request.body));
  });
  app.get('/v1/networks', { schema: listNetworksSchema }, async (request) => {
    return { networks: await networks.list(await tenancy.scopeOf(request)) };
  });
  app.get<Id>('/v1/networks/:id', { schema: getNetworkSchema }, async (request) => {
    return networks.get(await tenancy.scopeOf(request, { byId: true }), request.params.id);
  });
  app.delete<Id>('/v1/networks/:id', { schema: getNetworkSchema }, async (request) => {
    return networks.remove(await tenancy.scopeOf(request, { byId: true }), request.params.id);
  });
}
