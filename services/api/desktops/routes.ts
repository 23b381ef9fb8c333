// /v1/desktops: schemas first, then Desktops (the rules). A create answers 202
// with an operation (docs/operations.md) whose result is the desktop; a token
// is minted only by the desktop's own tenant (another tenant's desktop is 404).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { operationEnvelopeSchema, sendAccepted } from '../operations/routes.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import type { CreateDesktopBody, Desktops } from './desktops.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;

export const desktopSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, tenantId: { type: 'string' }, state: { type: 'string' }, containerId: { type: ['string', 'null'] },
    templateId: { type: 'string' }, width: { type: 'integer' }, height: { type: 'integer' }, createdAt: { type: 'string' }, lastActiveAt: { type: 'string' },
  },
} as const;

export const createDesktopSchema = {
  summary: 'A desktop in the browser: a container forked from the tenant\'s running desktop template (built on first use)',
  body: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      image: { type: 'string', minLength: 1, maxLength: 512 },
      template: { type: 'string', minLength: 1, maxLength: 48 },
      width: { type: 'integer', minimum: 640, maximum: 3840 },
      height: { type: 'integer', minimum: 480, maximum: 2160 },
    },
  },
  response: { 202: operationEnvelopeSchema },
} as const;

export const listDesktopsSchema = { summary: 'The tenant\'s desktops', response: { 200: { type: 'object', properties: { desktops: { type: 'array', items: desktopSchema } } } } } as const;
export const getDesktopSchema = { summary: 'One desktop', params: idParams, response: { 200: desktopSchema } } as const;
export const removeDesktopSchema = { summary: 'Remove a desktop and its container (open pages say so)', params: idParams, response: { 200: desktopSchema } } as const;
export const desktopTokenSchema = {
  summary: 'A short-lived browser link to the desktop (FORKD_DESKTOP_TOKEN_TTL_SEC); minting one revokes the previous',
  params: idParams,
  response: { 201: { type: 'object', required: ['token', 'url', 'expiresAt'], properties: { token: { type: 'string' }, url: { type: 'string' }, expiresAt: { type: 'string' } } } },
} as const;

type Id = { Params: { id: string } };

/** The URL the caller reached forkd by: the browser link uses the same. */
export function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

export async function desktopRoutes(app: FastifyInstance, opts: { desktops: Desktops; tenancy: Tenancy }): Promise<void> {
  const { desktops, tenancy } = opts;
  const tenant = (r: FastifyRequest) => tenancy.tenantIdOf(r);

  app.post<{ Body: CreateDesktopBody | null }>('/v1/desktops', { schema: createDesktopSchema }, async (request, reply) => {
    return sendAccepted(reply, await desktops.create(await tenant(request), request.body ?? {}));
  });

  app.get('/v1/desktops', { schema: listDesktopsSchema }, async (request) => ({ desktops: await desktops.list(await tenant(request)) }));

  app.get<Id>('/v1/desktops/:id', { schema: getDesktopSchema }, async (request) => desktops.get(await tenant(request), request.params.id));

  app.delete<Id>('/v1/desktops/:id', { schema: removeDesktopSchema }, async (request) => desktops.remove(await tenant(request), request.params.id));

  app.post<Id>('/v1/desktops/:id/token', { schema: desktopTokenSchema }, async (request, reply) => {
    const id = request.params.id;
    const t = await desktops.mintToken(await tenant(request), id);
    return reply.code(201).send({ ...t, url: `${baseUrl(request)}/desktops/${encodeURIComponent(id)}?token=${t.token}` });
  });
}
