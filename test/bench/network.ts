// The benchmark's tenant network. With a NIC (FORKD_NETWORK=tenant) the run
// makes one internal network (no uplink: nothing a guest sends leaves the
// host) in a namespace of its own, and every VM it measures joins it right
// after it is made and before its container, as hostd joins a container's VM:
// hostd's own joinGuest (tap onto the bridge ∥ identity.set {network}, then
// network.hosts to every member). Addresses come from the API's IPAM functions,
// lowest free first, and go back when a VM is destroyed. The namespace is
// removed at the end (and by a later run when this one was killed).

import { gatewayOf, lowestFree, parseSubnet, vmCapacity, type Cidr } from '../../services/api/networks/ipam.js';
import type { NetworkAttachment } from '../../services/contracts/jobs.js';
import type { Logger } from '../../services/contracts/logger.js';
import type { TenantNetworks } from '../../services/hostd/network/tenant-networks.js';
import { joinGuest, PeerBroadcaster, type NetworkAgent, type NetworkMember } from '../../services/hostd/network/vm-networks.js';

/** A /22: room for 1021 VMs, far above the 64 clones of the scaling step plus the VMs a mode keeps for PSS. */
export const BENCH_SUBNET = '10.89.200.0/22';
export const BENCH_TENANT = 'bench';

/** The network of benchmark process `pid` (its namespace is named after this id). */
export function benchNetworkId(pid: number): string {
  return `bench-${pid}`;
}

/** The attachment every bench VM shares, without its address. */
export function benchAttachment(pid: number): Omit<NetworkAttachment, 'address'> {
  return {
    networkId: benchNetworkId(pid),
    tenantId: BENCH_TENANT,
    name: benchNetworkId(pid),
    subnet: BENCH_SUBNET,
    gateway: gatewayOf(parseSubnet(BENCH_SUBNET)),
    internal: true,
    aliases: [],
  };
}

/** Addresses of one subnet: the lowest free one after the gateway, held until freed. */
export class AddressPool {
  readonly #cidr: Cidr;
  readonly #taken = new Set<string>();

  constructor(readonly subnet: string) {
    this.#cidr = parseSubnet(subnet);
  }

  get inUse(): number {
    return this.#taken.size;
  }

  get capacity(): number {
    return vmCapacity(this.#cidr);
  }

  take(): string {
    const a = lowestFree(this.#cidr, this.#taken);
    if (a === undefined) throw new Error(`the bench network ${this.subnet} has no free address (${this.#taken.size} VMs on it)`);
    this.#taken.add(a);
    return a;
  }

  free(address: string): void {
    this.#taken.delete(address);
  }
}

/** The bench's steps of a join, the whole first, and hostd's timing names for them. */
const NETWORK_STEPS = ['network', 'networkEnsure', 'networkTap', 'networkGuest', 'networkPeers'] as const;

/** hostd's join timings (networkMs, networkTapMs…) as the bench's steps (network, networkTap…), in that order. */
export function networkSteps(timings: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const step of NETWORK_STEPS) {
    const v = timings[`${step}Ms`];
    if (v !== undefined) out[step] = v;
  }
  return out;
}

/** What the report says about the NIC. */
export function nicDescription(configNetwork: string, att: Pick<NetworkAttachment, 'networkId' | 'subnet' | 'internal'> | null): string {
  if (att === null) return `none (FORKD_NETWORK=${configNetwork}): no network step`;
  return `tap on tenant network ${att.networkId} (${att.subnet}${att.internal ? ', internal' : ''}), joined in every mode but save/restore (FORKD_NETWORK=${configNetwork})`;
}

/** A VM the bench joins: its id, its tap, its agent and the hostname its peers know it by. */
export interface BenchNetVm {
  vmId: string;
  tap: string | null;
  agent: NetworkAgent;
  hostname: string;
}

export class BenchNetwork {
  readonly addresses = new AddressPool(BENCH_SUBNET);
  readonly #members = new Map<string, NetworkMember & { address: string }>();
  readonly #dns: string[] = []; // internal: the guest gets no resolver and no route anyway

  readonly #peers: PeerBroadcaster;

  constructor(
    readonly nets: Pick<TenantNetworks, 'attach' | 'ensure' | 'remove'>,
    readonly attachment: Omit<NetworkAttachment, 'address'>,
    private readonly log: Logger,
  ) {
    this.#peers = new PeerBroadcaster(() => [...this.#members.values()], log);
  }

  /** Makes the namespace and bridge (outside every measurement); returns how long that took. */
  async create(): Promise<number> {
    const t0 = Date.now();
    // ensure() reads the network's subnet, gateway and internal flag; no VM address is involved yet.
    await this.nets.ensure({ ...this.attachment, address: this.attachment.gateway });
    return Date.now() - t0;
  }

  /** Removes the namespace, its bridge and any tap still in it. Idempotent. */
  remove(): Promise<boolean> {
    return this.nets.remove(this.attachment.networkId);
  }

  /** Puts the VM on the network as hostd does; returns the steps (network, networkEnsure, networkTap, networkGuest, networkPeers). */
  async join(vm: BenchNetVm): Promise<Record<string, number>> {
    if (vm.tap === null) throw new Error(`VM ${vm.vmId} has no tap: it cannot join the bench network`);
    if (this.#members.has(vm.vmId)) throw new Error(`VM ${vm.vmId} is already on the bench network`);
    const att: NetworkAttachment = { ...this.attachment, address: this.addresses.take() };
    try {
      const timings = await joinGuest(this.nets, vm.tap, vm.agent, att, this.#dns, async () => {
        this.#members.set(vm.vmId, { vmId: vm.vmId, agent: vm.agent, record: { network: att, hostname: vm.hostname }, address: att.address });
        await this.#peers.welcome(this.#members.get(vm.vmId)!, att.networkId);
      });
      return networkSteps(timings);
    } catch (err) {
      this.#members.delete(vm.vmId);
      this.addresses.free(att.address);
      throw err;
    }
  }

  /**
   * After the VM is destroyed: its address is free again and it is no longer
   * sent names. Its peers are not told (hostd does that on release; no
   * measured request waits for it).
   */
  leave(vmId: string): void {
    const m = this.#members.get(vmId);
    if (!m) return;
    this.#members.delete(vmId);
    this.addresses.free(m.address);
  }

  /** Resolves once the background name updates are done (before the VMs they go to are destroyed). */
  settled(): Promise<void> {
    return this.#peers.settled();
  }

  get members(): number {
    return this.#members.size;
  }
}
