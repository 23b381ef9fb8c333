// The end of a create that timed out, for containers and bare VMs alike.
import type { PrismaClient } from '../db/client.js';
import type { HostJobs } from '../host-jobs.js';
import { vmStates } from './state-writes.js';

/**
 * After a create timed out: has the host destroy whatever it made, and says
 * so in the row (failed → gone) only once the host confirms. A destroy that
 * fails leaves the row failed and the VM to the reconciler, which destroys
 * VMs a host runs without a live row.
 */
export async function destroyAfterTimeout(db: PrismaClient, hostJobs: HostJobs, log: { warn(msg: string, fields?: Record<string, unknown>): void }, hostId: string, vmId: string): Promise<boolean> {
  try {
    await hostJobs.call(hostId, 'vm.destroy', { vmId });
  } catch (err) {
    log.warn('destroying a VM whose create timed out failed; the reconciler retries', { vm: vmId, host: hostId, error: (err as Error).message });
    return false;
  }
  await vmStates.write(db, vmId, 'gone', { stoppedAt: new Date() }).catch((err: unknown) => {
    // Removed meanwhile (a user's rm): nothing left to mark.
    log.warn('marking a destroyed VM gone failed', { vm: vmId, error: (err as Error).message });
  });
  return true;
}
