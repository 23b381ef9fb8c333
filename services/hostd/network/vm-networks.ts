// A VM joining and leaving its tenant network: the one place that combines
// the host side (tap into the network's namespace, onto its bridge), the
// guest side (address, route, resolvers through identity.set) and the names
// peers know each other by (network.hosts to every member). Order matters:
// the guest already has its own MAC (identity.set ran when the VM was made),
// so no frame with a template's MAC ever reaches the bridge.
import type { Params } from '../../contracts/agent-protocol/index.js';
import { ForkdError } from '../../contracts/errors.js';
import type { NetworkAttachment } from '../../contracts/jobs.js';
import { errorFields, type Logger } from '../../contracts/logger.js';
import type { GuestJoin } from '../fork/fork.js';
import type { ManagedVm } from '../vm/vm-manager.js';
import type { VmRecord } from '../vm/vm-record.js';
import { guestNetworkFor, hostNameservers, type GuestNetworkParams } from './guest-network.js';
import { netnsName } from './names.js';
import type { TapPort } from './taps.js';
import type { AttachTimings, TenantNetworks } from './tenant-networks.js';

const PEER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The agent calls joining a network makes (AgentClient satisfies it; the benchmark and tests pass their own). */
export interface NetworkAgent {
  call(method: 'identity.set', params: Params<'identity.set'>): Promise<unknown>;
  call(method: 'network.hosts', params: Params<'network.hosts'>): Promise<unknown>;
}

/** A member of a network as peer names need it: hostd's ManagedVm, or the benchmark's VMs. */
export interface NetworkMember {
  vmId: string;
  agent: NetworkAgent;
  record: Pick<VmRecord, 'network' | 'hostname'>;
}

/** One hosts-file line of the network's members, as network.hosts and identity.set's `hosts` take it. */
export type PeerEntry = NonNullable<Params<'identity.set'>['hosts']>[number];

/** The hosts-file entries of a network's members: each address with its aliases and hostname. */
export function peerEntries(members: ReadonlyArray<{ record: Pick<VmRecord, 'network' | 'hostname'> }>): PeerEntry[] {
  return members
    .filter((m) => m.record.network !== undefined)
    // A pod's address answers to every container's name: more than one entry (of at most 8 names each) per address.
    .flatMap((m) => chunks([...new Set([...m.record.network!.aliases, m.record.hostname])].filter((n) => PEER_NAME_RE.test(n)), 8)
      .map((names) => ({ address: m.record.network!.address, names })))
    .sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));
}

/** `xs` in slices of at most `n`; one empty slice for none (an address is listed even without a valid name). */
function chunks<T>(xs: T[], n: number): T[][] {
  if (xs.length <= n) return [xs];
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * The step every join times: the VM's tap onto the network's bridge and, at the
 * same time, the guest's address, route and resolvers (identity.set; `agent`
 * null: the fork's identity.set already sent them); then `announce` (hostd:
 * record the VM as a member and send every member the names, network.hosts).
 * `attached`: the fork already attached the tap (ForkJoin), with these timings.
 * Returns the timings hostd records on the VM, in ms: networkEnsureMs (the
 * namespace, only for a network's first VM on the host), networkTapMs,
 * networkGuestMs (identity.set, from the start of the step; absent when the fork
 * sent it), networkPeersMs (announce) and networkMs (this step: an attach done
 * in the fork is not in it).
 */
export async function joinGuest(
  nets: Pick<TenantNetworks, 'attach'>,
  tap: string,
  agent: NetworkAgent | null,
  att: NetworkAttachment,
  dns: readonly string[],
  announce: () => Promise<void>,
  attached?: AttachTimings,
): Promise<Record<string, number>> {
  const t0 = Date.now();
  if (agent === null) {
    // The guest already has its address; its own MAC was set no later than that, before the tap reaches the bridge.
    const host = attached ?? await nets.attach(tap, att);
    const t1 = Date.now();
    await announce();
    const t2 = Date.now();
    return { networkEnsureMs: host.ensureMs, networkTapMs: host.tapMs, networkPeersMs: t2 - t1, networkMs: t2 - t0 };
  }
  // The host side (tap onto the bridge) and the guest side (address, route) do not depend on each other: both at once.
  let guestMs = 0;
  const [host] = await Promise.all([
    nets.attach(tap, att),
    agent.call('identity.set', { network: guestNetworkFor(att, dns) }).then(() => { guestMs = Date.now() - t0; }),
  ]);
  const t1 = Date.now();
  await announce();
  const t2 = Date.now();
  return { networkEnsureMs: host.ensureMs, networkTapMs: host.tapMs, networkGuestMs: guestMs, networkPeersMs: t2 - t1, networkMs: t2 - t0 };
}

/** Sends every member the full list of the members' names. Failures are logged: a name is a convenience, not a contract. */
export async function publishPeerNames(members: readonly NetworkMember[], networkId: string, log: Logger, entries = peerEntries(members)): Promise<void> {
  await Promise.all(members.map((m) => m.agent.call('network.hosts', { entries }).catch((err: unknown) => {
    log.warn('could not update a VM\'s peer names', { vm: m.vmId, network: networkId, ...errorFields(err) });
  })));
}

/**
 * Peer names, kept current without making a join wait for every member. A
 * newcomer's own list is sent and awaited (its container starts knowing every
 * peer); the others are updated by one background loop per network that
 * always sends the latest list, one round at a time, so a member never ends
 * with an older list than one it already had. With the push awaited for all
 * members, a join on a network of 50 busy VMs took seconds (benchmark).
 */
export class PeerBroadcaster {
  private readonly loops = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();

  constructor(private readonly members: (networkId: string) => NetworkMember[], private readonly log: Logger) {}

  /** Sends the newcomer the current list and waits for it; then the others catch up in the background. */
  async welcome(newcomer: NetworkMember, networkId: string): Promise<void> {
    await publishPeerNames([newcomer], networkId, this.log, peerEntries(this.members(networkId)));
    this.schedule(networkId);
  }

  /** Every member gets the latest list, in the background. */
  schedule(networkId: string): void {
    this.dirty.add(networkId);
    if (this.loops.has(networkId)) return;
    const loop = (async () => {
      while (this.dirty.delete(networkId)) await publishPeerNames(this.members(networkId), networkId, this.log);
    })().finally(() => this.loops.delete(networkId));
    this.loops.set(networkId, loop);
  }

  /** Resolves once no update is pending or in flight. */
  async settled(): Promise<void> {
    while (this.loops.size > 0) await Promise.all([...this.loops.values()]);
  }
}

/**
 * The part of a join that a fork does itself (the fork's GuestJoin), so that
 * it costs no round trip of its own: the guest's address, route and resolvers
 * and the peers' names go in the fork's identity.set (`network`, `hosts`), and
 * the fork attaches the tap (`attachTap`), beside that identity.set when the
 * clone's MAC was set ahead. VmNetworks.join then only records the VM.
 */
export class ForkJoin implements GuestJoin {
  private attached: { tap: string; timings: AttachTimings } | null = null;

  /** `hosts`: the peers' names as they are when the fork starts (the newcomer included); later changes follow in the background. */
  constructor(
    readonly network: GuestNetworkParams,
    readonly hosts: PeerEntry[],
    private readonly nets: Pick<TenantNetworks, 'attach'>,
    private readonly att: NetworkAttachment,
  ) {}

  readonly attachTap = async (tap: string): Promise<void> => {
    const timings = await this.nets.attach(tap, this.att);
    this.attached = { tap, timings };
  };

  /** The attach's timings when the fork attached `tap` (a take that failed over to a fresh fork attached another). */
  attachedTimings(tap: string): AttachTimings | null {
    return this.attached?.tap === tap ? this.attached.timings : null;
  }
}

export class VmNetworks {
  private readonly dns: string[];
  readonly peers: PeerBroadcaster;

  constructor(
    private readonly nets: TenantNetworks,
    private readonly taps: TapPort,
    private readonly running: () => ManagedVm[],
    private readonly log: Logger,
    dns?: string[],
  ) {
    this.dns = dns ?? hostNameservers();
    this.peers = new PeerBroadcaster((networkId) => this.membersOf(networkId), log);
  }

  /** This host's running VMs on the network. */
  private membersOf(networkId: string): ManagedVm[] {
    return this.running().filter((v) => v.record.network?.networkId === networkId);
  }

  /** The part of joining `att` that a fork of the VM named `hostname` does itself (ForkJoin): hand it to the fork, then to join(). */
  forkJoin(att: NetworkAttachment, hostname: string): ForkJoin {
    const hosts = peerEntries([...this.membersOf(att.networkId), { record: { network: att, hostname } }]);
    return new ForkJoin(guestNetworkFor(att, this.dns), hosts, this.nets, att);
  }

  /**
   * Puts the VM on `att`. Idempotent for a retry with the same attachment; a
   * VM already on another network is a conflict. `fork`: the fork already sent
   * the guest its address and attached the tap, so only the peers' names are
   * left. Returns the step timings.
   */
  async join(vm: ManagedVm, att: NetworkAttachment, opts: { fork?: ForkJoin } = {}): Promise<Record<string, number>> {
    const tap = vm.record.tap;
    if (!tap) throw new ForkdError('ERR_CONFLICT', `VM ${vm.vmId} has no NIC (FORKD_NETWORK=none): it cannot join network ${att.name}`, { field: 'network' });
    const was = vm.record.network;
    if (was) {
      if (was.networkId === att.networkId && was.address === att.address) return {};
      throw new ForkdError('ERR_CONFLICT', `VM ${vm.vmId} is already on network ${was.name}`, { field: 'network' });
    }
    return joinGuest(this.nets, tap, opts.fork ? null : vm.agent, att, this.dns, async () => {
      vm.record.network = att;
      // The fork's identity.set gave the newcomer the names already: everyone catches up in the background.
      if (opts.fork) this.peers.schedule(att.networkId);
      else await this.peers.welcome(vm, att.networkId);
    }, opts.fork?.attachedTimings(tap) ?? undefined);
  }

  /** After a VM's domain is gone (it is no longer running): its tap goes, and its peers forget its name in the background. */
  async release(record: VmRecord): Promise<void> {
    if (record.tap) await this.taps.remove(record.tap, record.network ? netnsName(record.network.networkId) : undefined);
    if (record.network) this.peers.schedule(record.network.networkId);
  }
}
