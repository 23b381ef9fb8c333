// The host's own firewall for forkd's interfaces: whatever a guest sends can
// never reach a socket of the host, by any address (loopback is not routable
// from a guest at all; the host's other addresses, the transit addresses and
// link-local all arrive through `input`). Guests sit behind two walls:
//   1. their tap lives in the network's own namespace, so the host's stack
//      never sees their frames (a detached tap is down: QEMU's writes fail);
//   2. this table drops anything that still arrives from `fkt*` (taps) or
//      `fkh*` (namespace uplinks) for the host itself, and forwards uplink
//      traffic only to the host's uplink interfaces (never to another
//      namespace or a local bridge such as libvirt's virbr0).
// One table per family, replaced whole and atomically (`nft -f`), so a
// restart never leaves half a rule set. Outbound NAT for non-internal
// networks is the masquerade rule below; the namespaces NAT once more inside.
import { NETWORK_TRANSIT_CIDR } from '../../contracts/jobs.js';
import { nft, sysctl, ip } from './commands.js';
import { TAP_PREFIX, UPLINK_PREFIX } from './names.js';

export const GUARD_TABLE = 'forkd_guard';
export const NAT_TABLE = 'forkd_nat';

/** The nftables script: pure, so a unit test reads it as the policy. `uplinks`: the host interfaces that carry its default routes. */
export function hostGuardScript(uplinks: readonly string[]): string {
  const set = uplinks.length > 0 ? `{ ${uplinks.map((u) => JSON.stringify(u)).join(', ')} }` : null;
  return [
    // `add` then `delete` then `add`: delete needs the table to exist; the whole file applies atomically.
    `add table inet ${GUARD_TABLE}`,
    `delete table inet ${GUARD_TABLE}`,
    `add table ip ${NAT_TABLE}`,
    `delete table ip ${NAT_TABLE}`,
    `table inet ${GUARD_TABLE} {`,
    `  chain input {`,
    `    type filter hook input priority -10; policy accept;`,
    `    iifname "${TAP_PREFIX}*" counter drop comment "a guest tap never talks to the host"`,
    `    iifname "${UPLINK_PREFIX}*" counter drop comment "a tenant network never talks to the host"`,
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority -10; policy accept;`,
    `    iifname "${TAP_PREFIX}*" counter drop`,
    `    oifname "${TAP_PREFIX}*" counter drop`,
    `    oifname "${UPLINK_PREFIX}*" ct state established,related accept`,
    `    oifname "${UPLINK_PREFIX}*" counter drop comment "nothing opens a connection into a tenant network"`,
    ...(set ? [`    iifname "${UPLINK_PREFIX}*" oifname ${set} accept`] : []),
    `    iifname "${UPLINK_PREFIX}*" counter drop comment "out through the host's uplinks only"`,
    `  }`,
    `}`,
    `table ip ${NAT_TABLE} {`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority 100; policy accept;`,
    `    ip saddr ${NETWORK_TRANSIT_CIDR} oifname != "${UPLINK_PREFIX}*" masquerade`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** The interfaces of the host's default routes (IPv4). */
export async function hostUplinks(): Promise<string[]> {
  const out = await ip(['-j', 'route', 'show', 'default'], 'reading the host\'s default routes');
  const routes = JSON.parse(out || '[]') as Array<{ dev?: string }>;
  return [...new Set(routes.map((r) => r.dev).filter((d): d is string => typeof d === 'string' && !d.startsWith(UPLINK_PREFIX) && !d.startsWith(TAP_PREFIX)))];
}

/** Installs (or replaces) the guard. Run at hostd start, before any VM exists. */
export async function installHostGuard(): Promise<{ uplinks: string[] }> {
  const uplinks = await hostUplinks();
  await nft(hostGuardScript(uplinks), 'installing the host guard (nftables)');
  return { uplinks };
}

/** Outbound NAT for non-internal networks needs the host to forward; done when the first such network appears. */
export async function enableHostForwarding(): Promise<void> {
  await sysctl('net.ipv4.ip_forward', '1', 'enabling IPv4 forwarding for tenant networks with a route out');
}

export async function removeHostGuard(): Promise<void> {
  await nft(`add table inet ${GUARD_TABLE}\ndelete table inet ${GUARD_TABLE}\nadd table ip ${NAT_TABLE}\ndelete table ip ${NAT_TABLE}\n`, 'removing the host guard');
}
