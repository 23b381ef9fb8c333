// What every new VM is told about itself through the agent's identity.set —
// cold-booted, forked or taken from the warm pool alike, so no path forgets a
// field (two VMs must never share MAC, machine-id, hostname or RNG state).
import { randomBytes } from 'node:crypto';
import type { Params } from '../../contracts/agent-protocol/index.js';
import type { NetworkSpec } from './domain-xml.js';

export type IdentityParams = Params<'identity.set'>;
export type GuestNetwork = NonNullable<IdentityParams['network']>;

/**
 * The guest side of the NIC. QEMU's user-mode network is a private NAT per VM
 * with fixed addresses (slirp), so every guest can take the same static ones.
 * Other modes need addresses from outside (DHCP or an allocator): none is set.
 */
export function guestNetworkFor(nic: NetworkSpec | null): GuestNetwork | undefined {
  if (nic === 'user') return { interface: 'eth0', address: '10.0.2.15/24', gateway: '10.0.2.2', dns: ['10.0.2.3'] };
  return undefined;
}

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
  const network = guestNetworkFor(id.nic);
  return {
    hostname: id.hostname,
    machineId: id.machineId,
    ...(id.mac === null ? {} : { mac: id.mac }),
    entropy: id.entropy ?? randomBytes(64).toString('base64'),
    ...(id.clock === false ? {} : { clockEpochMs: Date.now() }),
    ...(network ? { network } : {}),
  };
}
