// What every new VM is told about itself through the agent's identity.set —
// cold-booted, forked or taken from the warm pool alike, so no path forgets a
// field (two VMs must never share MAC, machine-id, hostname or RNG state).
// Its address is not part of this: a VM's NIC stays detached until it joins a
// tenant network (services/hostd/network/), which configures the guest side.
import { randomBytes } from 'node:crypto';
import type { Params } from '../../contracts/agent-protocol/index.js';
import type { NetworkSpec } from './domain-xml.js';

export type IdentityParams = Params<'identity.set'>;

export interface GuestIdentity {
  hostname: string;
  machineId: string;
  /** The VM's MAC; the guest sets it (a clone's virtio-net comes back with its template's). */
  mac: string | null;
  nic: NetworkSpec | null;
  /** 64 bytes, base64; fresh when absent. */
  entropy?: string;
  /** false: the caller sets the clock separately (in the background). */
  clock?: boolean;
}

export function identityParams(id: GuestIdentity): IdentityParams {
  return {
    hostname: id.hostname,
    machineId: id.machineId,
    ...(id.mac === null || id.nic === null ? {} : { mac: id.mac }),
    entropy: id.entropy ?? randomBytes(64).toString('base64'),
    ...(id.clock === false ? {} : { clockEpochMs: Date.now() }),
  };
}
