// Admin across tenants: which tenants a request acts on. A tenant key acts on
// its own tenant, always. An admin key acts on the default tenant unless it
// names one (`?tenant=<id|name>`) or asks for every tenant
// (`?allTenants=true`, lists and events only). By id, an admin reaches any
// tenant's resource without naming the tenant (scope 'all').
import type { FastifyRequest } from 'fastify';
import { ForkdError } from '../../contracts/errors.js';
import type { PrismaClient } from '../db/client.js';
import type { Actor } from './policy.js';

/** The query every list and by-id route takes for admin keys (schema fragments below). */
export interface TenantQuery {
  tenant?: string;
  allTenants?: boolean;
}

/** Querystring properties that choose the tenant: merge into a route's querystring schema. */
export const tenantQueryProperties = {
  tenant: { type: 'string', minLength: 1, maxLength: 128, description: 'Admin keys: act on this tenant (id or name) instead of the default tenant.' },
  allTenants: { type: 'boolean', description: 'Admin keys, lists only: every tenant\'s resources (each view names its tenant).' },
} as const;

/** A tenant id, or every tenant. */
export type TenantScope = { tenantId: string } | 'all';

/** The Prisma `where` fragment for a scope. */
export function scopeWhere(scope: TenantScope): { tenantId?: string } {
  return scope === 'all' ? {} : { tenantId: scope.tenantId };
}

/**
 * The tenants a request acts on. Tenant keys may not name a tenant
 * (ERR_FORBIDDEN, field `tenant`/`allTenants`) — not even their own, so a
 * script that works for a tenant key never depends on it. `allowAll` says
 * whether the route is a list (or a by-id action, where an admin's default
 * is every tenant).
 */
export async function resolveScope(db: PrismaClient, actor: Actor, query: TenantQuery, opts: { byId?: boolean } = {}): Promise<TenantScope> {
  if (!actor.admin) {
    if (query.tenant !== undefined) throw new ForkdError('ERR_FORBIDDEN', 'only an admin key may name a tenant', { field: 'tenant' });
    if (query.allTenants) throw new ForkdError('ERR_FORBIDDEN', 'only an admin key may act across tenants', { field: 'allTenants' });
    return { tenantId: actor.tenantId };
  }
  if (query.tenant !== undefined && query.allTenants) {
    throw new ForkdError('ERR_VALIDATION', 'give tenant or allTenants, not both', { field: 'allTenants' });
  }
  if (query.tenant !== undefined) {
    const t = await db.tenant.findFirst({ where: { OR: [{ id: query.tenant }, { name: query.tenant }] } });
    if (!t) throw new ForkdError('ERR_NOT_FOUND', `no tenant ${JSON.stringify(query.tenant)}`, { field: 'tenant' });
    return { tenantId: t.id };
  }
  if (query.allTenants || opts.byId) return 'all';
  return { tenantId: actor.tenantId };
}

/** resolveScope for a request (the actor from Tenancy). */
export type ScopeOf = (request: FastifyRequest, query: TenantQuery, opts?: { byId?: boolean }) => Promise<TenantScope>;
