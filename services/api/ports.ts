// Published ports: the request's form (hostIp defaults to 127.0.0.1) and the
// check that no live container on the same host, of any tenant, already has
// the address and port. hostd has the last word (it answers ERR_CONFLICT on
// EADDRINUSE, for races and for ports taken by something else on the host).
import { ForkdError } from '../contracts/errors.js';
import type { PortRequest, PublishedPort } from '../contracts/jobs.js';
import { CONTAINER_ACTIVE_STATES, VM_ENDED_STATES } from '../contracts/lifecycle/index.js';
import type { PrismaClient } from './db/client.js';
import { parseIpv4 } from './networks/ipam.js';

export const DEFAULT_HOST_IP = '127.0.0.1';
const ANY = '0.0.0.0';

/** Fills in hostIp, checks it is an IPv4 address, and refuses one address:port twice. ERR_VALIDATION, field `ports`. */
export function normalizePorts(ports: readonly PortRequest[] | undefined): PortRequest[] {
  const out = (ports ?? []).map((p) => ({ ...p, hostIp: p.hostIp ?? DEFAULT_HOST_IP }));
  for (const p of out) {
    if (parseIpv4(p.hostIp) === undefined) throw new ForkdError('ERR_VALIDATION', `ports: hostIp ${JSON.stringify(p.hostIp)} is not an IPv4 address`, { field: 'ports' });
  }
  const clash = firstClash(out, out.map((p, i) => ({ owner: `entry ${i}`, port: { hostAddress: p.hostIp, hostPort: p.hostPort ?? 0 } })), true);
  if (clash) throw new ForkdError('ERR_VALIDATION', `ports: ${clash.want} is asked for twice`, { field: 'ports' });
  return out;
}

interface Holder {
  /** Who holds it, for the message. */
  owner: string;
  port: Pick<PublishedPort, 'hostAddress' | 'hostPort'>;
}

/** Whether two binds collide: the same port on the same address, or on the wildcard and anything. */
export function sameBind(a: { ip: string; port: number }, b: { ip: string; port: number }): boolean {
  return a.port !== 0 && a.port === b.port && (a.ip === b.ip || a.ip === ANY || b.ip === ANY);
}

/** The first requested port (with a fixed hostPort) that a holder already has; `selfToo` compares a list with itself. */
export function firstClash(want: readonly PortRequest[], held: readonly Holder[], selfToo = false): { want: string; owner: string } | undefined {
  for (const [i, w] of want.entries()) {
    const mine = { ip: w.hostIp ?? DEFAULT_HOST_IP, port: w.hostPort ?? 0 };
    for (const [j, h] of held.entries()) {
      if (selfToo && j <= i) continue;
      if (sameBind(mine, { ip: h.port.hostAddress, port: h.port.hostPort })) return { want: `${mine.ip}:${mine.port}`, owner: h.owner };
    }
  }
  return undefined;
}

/** ERR_CONFLICT (field `ports`) when a live container on `hostId` already publishes one of `want`. */
export async function checkPortsFree(db: PrismaClient, hostId: string, want: readonly PortRequest[]): Promise<void> {
  if (!want.some((p) => p.hostPort)) return;
  const rows = await db.container.findMany({
    where: { state: { in: [...CONTAINER_ACTIVE_STATES] }, vm: { hostId, state: { notIn: [...VM_ENDED_STATES] } } },
    select: { id: true, ports: true },
  });
  // Another tenant's container is not named to this one: only that the port is taken.
  const held = rows.flatMap((r) => ((r.ports as PublishedPort[] | null) ?? []).map((port) => ({ owner: r.id, port })));
  const clash = firstClash(want, held);
  if (clash) throw new ForkdError('ERR_CONFLICT', `port ${clash.want} is already published on host ${hostId}`, { field: 'ports', detail: { port: clash.want } });
}
