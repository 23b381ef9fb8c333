// The tenancy rules, in one place and pure (no database, no request): who
// sees which template, who may change one, which host ports a key may
// publish, and whether one more VM fits a tenant's quota. Callers fetch the
// facts, ask here, and act; each rule has its unit test in policy.test.ts.
import type { PortRange } from '../../contracts/config.js';
import { ForkdError } from '../../contracts/errors.js';
import type { PortRequest } from '../../contracts/jobs.js';
import type { Prisma } from '../db/client.js';

/** Who a request acts as: the tenant it acts for, and whether its key is the admin's. */
export interface Actor {
  tenantId: string;
  admin: boolean;
}

// ---- templates --------------------------------------------------------------

/**
 * A template's owner is its image's tenant. A template without an image is a
 * shared base (admin-made, below): every tenant may see it and fork from it,
 * only an admin may change it. `null` means shared.
 */
export function templateOwner(template: { image?: { tenantId: string } | null }): string | null {
  return template.image?.tenantId ?? null;
}

/** A tenant sees its own templates and the shared ones; the admin sees all. */
export function maySeeTemplate(actor: Actor, owner: string | null): boolean {
  return actor.admin || owner === null || owner === actor.tenantId;
}

/** The same rule as a database filter (for lists), kept beside it so the two cannot drift. */
export function visibleTemplatesWhere(actor: Actor): Prisma.TemplateWhereInput {
  return actor.admin ? {} : { OR: [{ imageId: null }, { image: { tenantId: actor.tenantId } }] };
}

/**
 * Resize a pool or delete: the owner or an admin. A template the actor cannot
 * see is ERR_NOT_FOUND (another tenant's ids are not confirmed to exist); a
 * shared one it can see but not change is ERR_FORBIDDEN.
 */
export function assertMayChangeTemplate(actor: Actor, owner: string | null, templateId: string, action: 'resize' | 'delete'): void {
  if (!maySeeTemplate(actor, owner)) throw new ForkdError('ERR_NOT_FOUND', `no template ${JSON.stringify(templateId)}`, { field: 'id' });
  if (actor.admin || owner === actor.tenantId) return;
  throw new ForkdError('ERR_FORBIDDEN', `template ${templateId} is a shared base template: only an admin key may ${action} it`, { field: 'id' });
}

/**
 * A template without an image would be shared with every tenant, so only an
 * admin may build one. Tenants build templates from their own images (which
 * makes them the owner).
 */
export function assertMayCreateTemplate(actor: Actor, hasImage: boolean): void {
  if (hasImage || actor.admin) return;
  throw new ForkdError('ERR_FORBIDDEN', 'a template without an image is a shared base template: only an admin key may build one (name one of your images in `image`)', { field: 'image' });
}

// ---- published ports ---------------------------------------------------------

/** Below this a port is privileged on the host (ssh, http, DNS…): never a tenant's. */
export const FIRST_UNPRIVILEGED_PORT = 1024;

/** The host ports a tenant key may publish: the configured range, never below 1024. */
export function tenantPortRange(configured: PortRange): PortRange {
  return { min: Math.max(configured.min, FIRST_UNPRIVILEGED_PORT), max: configured.max };
}

/**
 * Tenant keys may publish fixed host ports only inside `tenantPortRange`;
 * the admin key any. A request without a hostPort (the host picks a free
 * ephemeral one) is always allowed. ERR_FORBIDDEN, field `ports`.
 */
export function assertMayPublish(actor: Actor, ports: readonly PortRequest[] | undefined, configured: PortRange): void {
  if (actor.admin) return;
  const range = tenantPortRange(configured);
  for (const [i, p] of (ports ?? []).entries()) {
    if (!p.hostPort) continue;
    if (p.hostPort < range.min || p.hostPort > range.max) {
      throw new ForkdError('ERR_FORBIDDEN', `ports[${i}].hostPort ${p.hostPort} is outside the host ports a tenant may publish (${range.min}-${range.max}; FORKD_PUBLISH_PORT_RANGE)`, {
        field: 'ports', detail: { hostPort: p.hostPort, allowed: `${range.min}-${range.max}` },
      });
    }
  }
}

// ---- quota -----------------------------------------------------------------

export interface TenantQuota {
  name: string;
  maxVms: number;
  maxMemoryMib: number;
}

/** What a tenant's live VMs (not gone, not failed) hold now. */
export interface QuotaUse {
  vms: number;
  memoryMib: number;
}

/** ERR_QUOTA when one more VM of `memoryMib` would pass either limit; the field names the limit. */
export function assertVmFits(tenant: TenantQuota, use: QuotaUse, memoryMib: number): void {
  if (use.vms + 1 > tenant.maxVms) {
    throw new ForkdError('ERR_QUOTA', `tenant ${tenant.name} may run ${tenant.maxVms} VMs and has ${use.vms}`, { field: 'maxVms', detail: { maxVms: tenant.maxVms, vms: use.vms } });
  }
  if (use.memoryMib + memoryMib > tenant.maxMemoryMib) {
    throw new ForkdError('ERR_QUOTA', `tenant ${tenant.name} may use ${tenant.maxMemoryMib} MiB of VM memory; ${use.memoryMib} MiB are in use and this VM needs ${memoryMib} MiB`, {
      field: 'maxMemoryMib', detail: { maxMemoryMib: tenant.maxMemoryMib, memoryMib: use.memoryMib },
    });
  }
}
