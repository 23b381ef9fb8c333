// The VM quota, enforced where it cannot be raced: inside the transaction
// that inserts the Vm row. Counting first and inserting later in another
// transaction lets N parallel creates all see the same count and all pass.
//
// `reserveVmQuota` first WRITES the tenant's row (bumps updatedAt), then
// counts. The write is what serializes creates of one tenant:
// - SQLite: the first write turns the transaction into the one writer; any
//   other writer waits (busy timeout) until it commits, and then counts the
//   committed row.
// - PostgreSQL: the UPDATE takes the tenant row's lock until commit; a second
//   create blocks on it, and under READ COMMITTED its next statement (the
//   count) sees the first one's committed Vm.
// Other tenants' creates touch other rows and do not wait.
import { VM_ENDED_STATES } from '../../contracts/lifecycle/index.js';
import type { Prisma, PrismaClient } from '../db/client.js';
import { assertVmFits, type QuotaUse, type TenantQuota } from './policy.js';

type Tx = Prisma.TransactionClient;

/** VM states that no longer hold quota (lost ones included: the reconciler releases them). */
const RELEASED_STATES = [...VM_ENDED_STATES];

async function useOf(db: Tx | PrismaClient, tenantId: string): Promise<QuotaUse> {
  const live = await db.vm.aggregate({ where: { tenantId, state: { notIn: RELEASED_STATES } }, _count: true, _sum: { memoryMib: true } });
  return { vms: live._count, memoryMib: live._sum.memoryMib ?? 0 };
}

/**
 * Call inside the transaction that creates the Vm row, before creating it.
 * ERR_QUOTA when the VM does not fit; the transaction then rolls back.
 */
export async function reserveVmQuota(tx: Tx, tenantId: string, memoryMib: number): Promise<void> {
  const tenant: TenantQuota = await tx.tenant.update({ where: { id: tenantId }, data: { updatedAt: new Date() } });
  assertVmFits(tenant, await useOf(tx, tenantId), memoryMib);
}

/**
 * An early, advisory answer before slow work (placing, building a template),
 * so a tenant at its quota hears so at once. It reserves nothing:
 * `reserveVmQuota` in the create transaction is the binding check.
 */
export async function precheckVmQuota(db: PrismaClient, tenantId: string, memoryMib: number): Promise<void> {
  const tenant = await db.tenant.findUniqueOrThrow({ where: { id: tenantId } });
  assertVmFits(tenant, await useOf(db, tenantId), memoryMib);
}
