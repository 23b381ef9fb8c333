// Admin only: tenants (with quotas) and API keys. A key is shown once, when made.
import type { FastifyInstance } from 'fastify';
import { ForkdError } from '../../contracts/errors.js';
import { generateApiKey } from '../api-keys.js';
import { requireAdmin } from '../auth.js';
import type { PrismaClient } from '../db/client.js';

const tenantSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, maxVms: { type: 'integer' }, maxMemoryMib: { type: 'integer' }, createdAt: { type: 'string' } },
} as const;
const keySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, prefix: { type: 'string' }, role: { type: 'string' }, tenant: { type: ['string', 'null'] }, name: { type: ['string', 'null'] },
    createdAt: { type: 'string' }, lastUsedAt: { type: ['string', 'null'] }, revokedAt: { type: ['string', 'null'] }, key: { type: 'string' },
  },
} as const;

export const createTenantSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
      maxVms: { type: 'integer', minimum: 0, maximum: 100000 },
      maxMemoryMib: { type: 'integer', minimum: 0, maximum: 100000000 },
    },
  },
  response: { 201: tenantSchema },
} as const;

export const createKeySchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    properties: { tenant: { type: 'string', minLength: 1, maxLength: 63 }, name: { type: 'string', maxLength: 200 } },
  },
  response: { 201: keySchema },
} as const;

type KeyRow = { id: string; prefix: string; role: string; name: string | null; createdAt: Date; lastUsedAt: Date | null; revokedAt: Date | null; tenant: { name: string } | null };
const keyView = (k: KeyRow) => ({
  id: k.id, prefix: k.prefix, role: k.role, tenant: k.tenant?.name ?? null, name: k.name,
  createdAt: k.createdAt.toISOString(), lastUsedAt: k.lastUsedAt?.toISOString() ?? null, revokedAt: k.revokedAt?.toISOString() ?? null,
});

export async function tenantRoutes(app: FastifyInstance, opts: { db: PrismaClient }): Promise<void> {
  const { db } = opts;
  app.addHook('onRequest', async (request) => { requireAdmin(request); });

  app.post<{ Body: { name: string; maxVms?: number; maxMemoryMib?: number } }>('/v1/tenants', { schema: createTenantSchema }, async (request, reply) => {
    if (await db.tenant.findUnique({ where: { name: request.body.name } })) {
      throw new ForkdError('ERR_CONFLICT', `tenant ${request.body.name} exists`, { field: 'name' });
    }
    const t = await db.tenant.create({ data: request.body });
    return reply.status(201).send({ ...t, createdAt: t.createdAt.toISOString() });
  });

  app.get('/v1/tenants', { schema: { response: { 200: { type: 'object', properties: { tenants: { type: 'array', items: tenantSchema } } } } } }, async () => {
    const rows = await db.tenant.findMany({ orderBy: { name: 'asc' } });
    return { tenants: rows.map((t) => ({ ...t, createdAt: t.createdAt.toISOString() })) };
  });

  app.post<{ Body: { tenant?: string; name?: string } }>('/v1/keys', { schema: createKeySchema }, async (request, reply) => {
    let tenantId: string | null = null;
    if (request.body.tenant) {
      const t = await db.tenant.findUnique({ where: { name: request.body.tenant } });
      if (!t) throw new ForkdError('ERR_NOT_FOUND', `no tenant ${request.body.tenant}`, { field: 'tenant' });
      tenantId = t.id;
    }
    const k = generateApiKey();
    const row = await db.apiKey.create({
      data: { tenantId, role: tenantId ? 'tenant' : 'admin', name: request.body.name ?? null, prefix: k.prefix, hash: k.hash },
      include: { tenant: true },
    });
    return reply.status(201).send({ ...keyView(row), key: k.key });
  });

  app.get('/v1/keys', { schema: { response: { 200: { type: 'object', properties: { keys: { type: 'array', items: keySchema } } } } } }, async () => {
    const rows = await db.apiKey.findMany({ include: { tenant: true }, orderBy: { createdAt: 'asc' } });
    return { keys: rows.map(keyView) };
  });

  app.delete<{ Params: { id: string } }>('/v1/keys/:id', { schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } }, response: { 200: keySchema } } }, async (request) => {
    const row = await db.apiKey.findFirst({ where: { OR: [{ id: request.params.id }, { prefix: request.params.id }] }, include: { tenant: true } });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no key ${request.params.id}`);
    if (row.id === request.principal?.keyId) throw new ForkdError('ERR_CONFLICT', 'a key cannot revoke itself');
    const revoked = await db.apiKey.update({ where: { id: row.id }, data: { revokedAt: new Date() }, include: { tenant: true } });
    return keyView(revoked);
  });
}
