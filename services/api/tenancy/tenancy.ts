// Which tenant a request acts for. Tenant keys are bound to their tenant; the
// admin key acts for the built-in `default` tenant (so a single-user install
// needs no tenant set-up), made on first use. The rules about what an actor
// may do are in policy.ts; this file only answers who the actor is.
import type { FastifyRequest } from 'fastify';
import type { PortRange } from '../../contracts/config.js';
import { ForkdError } from '../../contracts/errors.js';
import type { PortRequest } from '../../contracts/jobs.js';
import type { PrismaClient } from '../db/client.js';
import { assertMayPublish, type Actor } from './policy.js';
import { resolveScope, type TenantQuery, type TenantScope } from './scope.js';

export const DEFAULT_TENANT = 'default';

export class Tenancy {
  private defaultTenantId: string | undefined;

  constructor(
    private readonly db: PrismaClient,
    /** FORKD_PUBLISH_PORT_RANGE. */
    private readonly publishPortRange: PortRange = { min: 1024, max: 65535 },
  ) {}

  async tenantIdOf(request: FastifyRequest): Promise<string> {
    return (await this.actorOf(request)).tenantId;
  }

  async actorOf(request: FastifyRequest): Promise<Actor> {
    const p = request.principal;
    if (!p) throw new ForkdError('ERR_UNAUTHORIZED', 'not authenticated');
    if (p.tenantId) return { tenantId: p.tenantId, admin: p.role === 'admin' };
    this.defaultTenantId ??= (await this.db.tenant.upsert({ where: { name: DEFAULT_TENANT }, update: {}, create: { name: DEFAULT_TENANT } })).id;
    return { tenantId: this.defaultTenantId, admin: p.role === 'admin' };
  }

  /**
   * The tenants a request acts on (scope.ts): a tenant key its own; an admin
   * key the default tenant, `?tenant=`, or every tenant (`?allTenants=true` on
   * lists; by id, when it names no tenant).
   */
  async scopeOf(request: FastifyRequest, opts: { byId?: boolean } = {}): Promise<TenantScope> {
    return resolveScope(this.db, await this.actorOf(request), (request.query ?? {}) as TenantQuery, opts);
  }

  /** ERR_FORBIDDEN (field `ports`) when the actor may not publish one of these host ports. */
  assertMayPublish(actor: Actor, ports: readonly PortRequest[] | undefined): void {
    assertMayPublish(actor, ports, this.publishPortRange);
  }
}
