// Admin across tenants: which tenants a request acts on. A tenant key acts on
// its own tenant, always. An admin key acts on the default tenant unless it
// names one (`?tenant=<id|name>`) or asks for every tenant
// (`?allTenants=true`, lists and events only). By id, an admin reaches any
// tenant's resource without naming the tenant (ALL_TENANTS).
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

/**
 * A tenant id, or every tenant. `prefer`: an admin acting by id reaches any
 * tenant's resource, but by name (names are per tenant) only its own (default)
 * tenant's, as before it reached across tenants; ?tenant= names another.
 */
export type TenantScope = { tenantId: string } | { all: true; prefer?: string };

export const ALL_TENANTS: TenantScope = { all: true };

/** What a resource class's lookups take: a tenant's id (its own callers), or a request's scope. */
export type Owner = string | TenantScope;

/** The Prisma `where` fragment for an owner. */
export function scopeWhere(owner: Owner): { tenantId?: string } {
  if (typeof owner === 'string') return { tenantId: owner };
  return 'all' in owner ? {} : { tenantId: owner.tenantId };
}

/**
 * The one row a lookup by name found: the preferred tenant's (TenantScope)
 * when there is one. Across tenants with no preference a name may be taken in
 * several: ERR_CONFLICT (field `tenant`) asks for the id or ?tenant= rather
 * than picking one.
 */
export function oneRow<T extends { tenantId: string }>(rows: T[], what: string, ref: string, field = 'id', owner?: Owner): T {
  const prefer = owner && typeof owner !== 'string' && 'all' in owner ? owner.prefer : undefined;
  if (prefer !== undefined) rows = rows.filter((r) => r.tenantId === prefer);
  if (rows.length === 0) throw new ForkdError('ERR_NOT_FOUND', `no ${what} ${JSON.stringify(ref)}`, { field });
  if (rows.length > 1) throw new ForkdError('ERR_CONFLICT', `${what} name ${JSON.stringify(ref)} is used in several tenants: give its id, or name the tenant with ?tenant=`, { field: 'tenant' });
  return rows[0]!;
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
  if (query.allTenants) return ALL_TENANTS;
  if (opts.byId) return { all: true, prefer: actor.tenantId };
  return { tenantId: actor.tenantId };
}

/** resolveScope for a request (the actor from Tenancy). */
export type ScopeOf = (request: FastifyRequest, query: TenantQuery, opts?: { byId?: boolean }) => Promise<TenantScope>;
