// Names and addresses of what hostd creates for guest networking. Linux
// interface names are at most 15 bytes, so ids are hashed, and every name
// starts with a prefix no one else uses: the host guard matches on it
// (`fkt*` guest taps, `fkh*` uplinks) and clean-up finds forkd's own by it.
import { createHash } from 'node:crypto';
import { formatIpv4, parseIpv4 } from '../../contracts/ipv4.js';
import { NETWORK_TRANSIT_CIDR } from '../../contracts/jobs.js';

/** Guest taps: created down and detached, moved into a network's namespace on attach. */
export const TAP_PREFIX = 'fkt';
/** Host end of a network namespace's uplink (veth). */
export const UPLINK_PREFIX = 'fkh';
/** Network namespaces, one per tenant network on this host. */
export const NETNS_PREFIX = 'forkd-n-';
/** Inside a network's namespace: the bridge its guests' taps join, and the namespace end of the uplink. */
export const BRIDGE = 'br0';
export const UPLINK_INNER = 'up0';

function hash12(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 12);
}

/** The tap of the VM, shell or template `ownerId`: `fkt` + 12 hex (15 bytes). */
export function tapName(ownerId: string): string {
  return TAP_PREFIX + hash12(ownerId);
}

export function netnsName(networkId: string): string {
  return NETNS_PREFIX + hash12(networkId);
}

export function uplinkName(networkId: string): string {
  return UPLINK_PREFIX + hash12(networkId);
}

/** parseIpv4 that throws: hostd only reads addresses the API validated. */
export function parseIPv4(addr: string): number {
  const n = parseIpv4(addr);
  if (n === undefined) throw new Error(`not an IPv4 address: ${addr}`);
  return n;
}

export { formatIpv4 as formatIPv4 } from '../../contracts/ipv4.js';

export function prefixLength(cidr: string): number {
  const p = Number(cidr.split('/')[1]);
  if (!Number.isInteger(p) || p < 0 || p > 32) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  return p;
}

/** How many /30 transit links NETWORK_TRANSIT_CIDR holds. */
export function transitCapacity(): number {
  return 2 ** (32 - prefixLength(NETWORK_TRANSIT_CIDR)) / 4;
}

/** The /30 of uplink `index`: the host end is .1, the namespace end .2 of the block. */
export function transitLink(index: number): { host: string; inner: string; prefix: 30 } {
  if (!Number.isInteger(index) || index < 0 || index >= transitCapacity()) throw new Error(`transit index ${index} out of range`);
  const base = parseIPv4(NETWORK_TRANSIT_CIDR.split('/')[0]!) + index * 4;
  return { host: formatIpv4(base + 1), inner: formatIpv4(base + 2), prefix: 30 };
}
