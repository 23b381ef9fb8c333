// IPv4 address management for tenant networks: pure functions, no database.
// A subnet is an aligned CIDR from /16 to /29: wider ones are pointless on a
// host-local bridge (and slow to scan), narrower ones leave no room for a VM
// next to the gateway. The gateway is the first host address; VMs get the
// lowest free address after it; the network and broadcast addresses are never
// handed out.
import { ForkdError } from '../../contracts/errors.js';
import { formatIpv4, parseIpv4 } from '../../contracts/ipv4.js';
import { NETWORK_TRANSIT_CIDR } from '../../contracts/jobs.js';

export const MIN_PREFIX = 16;
export const MAX_PREFIX = 29;

/** Every tenant's `default` network. Auto subnets are the /24s after it. */
export const DEFAULT_NETWORK = { name: 'default', subnet: '10.89.0.0/24' } as const;

export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
}

/** Ranges a tenant subnet may not touch: forkd's own transit links, and what IPv4 reserves for itself. */
const RESERVED: ReadonlyArray<{ cidr: string; why: string }> = [
  { cidr: NETWORK_TRANSIT_CIDR, why: 'forkd reserves it for the links between networks and the host' },
  { cidr: '0.0.0.0/8', why: 'it is "this network"' },
  { cidr: '127.0.0.0/8', why: 'it is loopback' },
  { cidr: '169.254.0.0/16', why: 'it is link-local' },
  { cidr: '224.0.0.0/3', why: 'it is multicast and reserved' },
];

export { formatIpv4, parseIpv4 } from '../../contracts/ipv4.js';

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

/** Any CIDR, aligned, prefix 0..32; for forkd's own constants. Throws a plain Error. */
function parseAnyCidr(text: string): Cidr {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const base = m ? parseIpv4(m[1]!) : undefined;
  const prefix = Number(m?.[2]);
  if (base === undefined || !(prefix >= 0 && prefix <= 32) || base % 2 ** (32 - prefix) !== 0) throw new Error(`not an aligned CIDR: ${text}`);
  return { base, prefix };
}

/**
 * A tenant subnet from user input: ERR_VALIDATION (field `subnet`) when it is
 * malformed, not aligned (naming the aligned form), outside /16../29, or in a
 * reserved range.
 */
export function parseSubnet(text: string, field = 'subnet'): Cidr {
  const bad = (why: string) => new ForkdError('ERR_VALIDATION', `subnet ${JSON.stringify(text)} ${why}`, { field });
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) throw bad('is not an IPv4 CIDR like 10.89.1.0/24');
  const addr = parseIpv4(m[1]!);
  if (addr === undefined) throw bad(`has no valid IPv4 address (${JSON.stringify(m[1])})`);
  const prefix = Number(m[2]);
  if (prefix < MIN_PREFIX || prefix > MAX_PREFIX) throw bad(`must have a prefix from /${MIN_PREFIX} to /${MAX_PREFIX} (got /${prefix})`);
  const size = 2 ** (32 - prefix);
  const base = addr - (addr % size);
  if (base !== addr) throw bad(`is not aligned: the /${prefix} that holds ${m[1]} is ${formatCidr({ base, prefix })}`);
  const cidr = { base, prefix };
  for (const r of RESERVED) {
    if (overlaps(cidr, parseAnyCidr(r.cidr))) throw bad(`overlaps ${r.cidr}: ${r.why}`);
  }
  return cidr;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);
}

/** The gateway: the subnet's first host address. */
export function gatewayOf(c: Cidr): string {
  return formatIpv4(c.base + 1);
}

/** How many addresses VMs can hold: all but network, gateway and broadcast. */
export function vmCapacity(c: Cidr): number {
  return cidrSize(c) - 3;
}

/** The lowest address after the gateway that is not in `taken` and is not the broadcast; undefined when full. */
export function lowestFree(c: Cidr, taken: ReadonlySet<string>): string | undefined {
  const last = c.base + cidrSize(c) - 2; // the broadcast is base + size - 1
  for (let n = c.base + 2; n <= last; n++) {
    const a = formatIpv4(n);
    if (!taken.has(a)) return a;
  }
  return undefined;
}

/** The first 10.89.N.0/24 (N = 1..255) that overlaps none of `existing`; undefined when all do. */
export function autoSubnet(existing: readonly Cidr[]): string | undefined {
  for (let n = 1; n <= 255; n++) {
    const c = { base: parseIpv4(`10.89.${n}.0`)!, prefix: 24 };
    if (!existing.some((e) => overlaps(c, e))) return formatCidr(c);
  }
  return undefined;
}
