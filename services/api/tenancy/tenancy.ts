// Which tenant a request acts for. Tenant keys are bound to their tenant; the
// admin key acts for the built-in `default` tenant (so a single-user install
// needs no tenant set-up), made on first use.
import type { FastifyRequest } from 'fastify';
import { ForkdError } from '../contracts/errors.js';
import type { PrismaClient } from './db/client.js';

export const DEFAULT_TENANT = 'default';

export class Tenancy {
  private defaultTenantId: string | undefined;

  constructor(private readonly db: PrismaClient) {}

  async tenantIdOf(request: FastifyRequest): Promise<string> {
    const p = request.principal;
    if (!p) throw new ForkdError('ERR_UNAUTHORIZED', 'not authenticated');
    if (p.tenantId) return p.tenantId;
    this.defaultTenantId ??= (await this.db.tenant.upsert({ where: { name: DEFAULT_TENANT }, update: {}, create: { name: DEFAULT_TENANT } })).id;
    return this.defaultTenantId;
  }
}
