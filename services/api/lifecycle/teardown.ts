// Asynchronous, journaled teardown of a removed container's VM. A removal
// answers once the VM's row says `gone` (its quota and address released, as
// `docker rm` frees them) and its destroy is journaled: a `vm.destroy` job on
// the VM's host, kept in Redis until a hostd finishes it (BullMQ hands a job
// whose hostd died to the next one, and retries a failed one).
//
// Who finishes what:
//   - this process, when the job answers: deletes the `gone` row (as the
//     synchronous removal did);
//   - hostd killed mid-destroy: on restart its adoption finds the VM's
//     teardown marker and destroys it (services/hostd/vm/vm-manager.ts); the
//     job, taken over, finds nothing left;
//   - the job lost or failed for good: the reconciler destroys a VM its host
//     still runs with an ended row once FORKD_RECONCILE_ORPHAN_GRACE_MS has
//     passed (reconciler/diff.ts, unchanged).
// The hazard, while the destroy runs (about a second): the released address
// can be given to a new VM of the same network while the old one still runs.
import { errorFields } from '../../contracts/logger.js';
import type { PrismaClient } from '../db/client.js';
import type { HostJobs } from '../host-jobs.js';

/** One job per VM: enqueueing a teardown twice is a no-op. */
export function teardownJobId(vmId: string): string {
  return `teardown-${vmId}`;
}

/** Attempts of the destroy before the reconciler is left to it. */
export const TEARDOWN_ATTEMPTS = 5;

export interface TeardownDeps {
  db: Pick<PrismaClient, 'vm'>;
  hostJobs: Pick<HostJobs, 'enqueue'>;
  log: { warn(msg: string, fields?: Record<string, unknown>): void };
}

/** Journals the destroy of a VM whose row is `gone`; resolves once it is journaled, not when it is done. */
export async function journalTeardown(deps: TeardownDeps, hostId: string, vmId: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const { finished } = await deps.hostJobs.enqueue(hostId, 'vm.destroy', { vmId }, { jobId: teardownJobId(vmId), attempts: TEARDOWN_ATTEMPTS, ...opts });
  void finished.then(
    () => deps.db.vm.deleteMany({ where: { id: vmId, state: 'gone' } }),
    (err: unknown) => deps.log.warn('teardown: the VM\'s destroy did not finish; the reconciler destroys it after the orphan grace', { host: hostId, vm: vmId, ...errorFields(err) }),
  ).catch((err: unknown) => deps.log.warn('teardown: deleting the VM\'s row failed', { vm: vmId, ...errorFields(err) }));
}
