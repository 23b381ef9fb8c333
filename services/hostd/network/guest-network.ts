// What a guest is told about its place on a tenant network (identity.set's
// `network`): its address with the subnet's prefix, a default route only when
// the network has a way out, and the host's own nameservers (loopback ones
// would be the guest's own loopback, so they are skipped).
import { readFileSync } from 'node:fs';
import type { Params } from '../../contracts/agent-protocol/index.js';
import type { NetworkAttachment } from '../../contracts/jobs.js';
import { prefixLength } from './names.js';

export type GuestNetworkParams = NonNullable<Params<'identity.set'>['network']>;

/** The guest's NIC: the kernel names the one virtio NIC eth0 (there is no udev in the guest). */
export const GUEST_NIC = 'eth0';

export function guestNetworkFor(att: NetworkAttachment, hostDns: readonly string[]): GuestNetworkParams {
  return {
    interface: GUEST_NIC,
    address: `${att.address}/${prefixLength(att.subnet)}`,
    ...(att.internal ? {} : { gateway: att.gateway }),
    dns: att.internal ? [] : hostDns.slice(0, 3),
  };
}

/** The host's IPv4 nameservers that a guest could reach through NAT (not loopback). */
export function hostNameservers(resolvConf?: string): string[] {
  let text = resolvConf;
  if (text === undefined) {
    try {
      text = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      return []; // no resolver configured: guests get none either
    }
  }
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(l)?.[1])
    .filter((a): a is string => a !== undefined && !a.startsWith('127.'));
}
