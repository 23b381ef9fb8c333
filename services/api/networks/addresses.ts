// A VM's place on a network: which host it must run on, the address it holds
// (a NetworkAddress row, taken inside the transaction that makes the Vm row),
// the NetworkAttachment hostd gets, and the release when the VM goes.
import { ForkdError } from '../../contracts/errors.js';
import type { NetworkAttachment } from '../../contracts/jobs.js';
import type { Prisma, PrismaClient } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import type { HostJobs } from '../host-jobs.js';
import type { PlacedHost, Placement, VmNeeds } from '../placement.js';
import { formatCidr, lowestFree, parseSubnet, vmCapacity } from './ipam.js';
import type { NetworkRow } from './networks.js';

export type Tx = Prisma.TransactionClient;

/** How often a create retries when another VM took the address it picked. */
const ALLOCATE_ATTEMPTS = 5;

/** Thrown inside a transaction when the picked address was taken meanwhile; `withAddressRetry` runs the transaction again. */
class AddressTaken extends Error {}

export class NetworkAddresses {
  constructor(private readonly db: PrismaClient, private readonly placement: Placement, private readonly hostJobs: HostJobs) {}

  /**
   * The host a new VM on `network` goes to: the network's host once it has
   * one (networks are host-local), else the placement's pick.
   */
  async hostFor(network: NetworkRow, needs?: VmNeeds): Promise<PlacedHost> {
    if (!network.hostId) return this.placement.pickHost(needs);
    const host = (await this.hostJobs.listHosts()).find((h) => h.hostId === network.hostId);
    if (!host || !host.up || host.draining) {
      const why = !host ? 'is not known' : !host.up ? 'is not up' : 'is draining';
      throw new ForkdError('ERR_NO_CAPACITY', `network ${network.name} lives on host ${network.hostId}, which ${why}: its VMs can only run there`, { field: 'network', detail: { hostId: network.hostId } });
    }
    return this.placement.facts(host);
  }

  /**
   * Inside the caller's transaction: pins `network` to `hostId` if it has no
   * host yet, and takes the lowest free address for `vmId`. ERR_CONFLICT
   * (field `network`) when the subnet is full.
   */
  async allocate(tx: Tx, network: NetworkRow, vmId: string, hostId: string): Promise<string> {
    const pinned = await tx.network.updateMany({ where: { id: network.id, hostId: null }, data: { hostId } });
    if (pinned.count === 0) {
      const now = await tx.network.findUnique({ where: { id: network.id } });
      if (!now) throw new ForkdError('ERR_NOT_FOUND', `network ${network.name} was deleted`, { field: 'network' });
      if (now.hostId !== hostId) {
        throw new ForkdError('ERR_NO_CAPACITY', `network ${network.name} was just placed on host ${now.hostId} by another request: try again`, { field: 'network', detail: { hostId: now.hostId } });
      }
    }
    const cidr = parseSubnet(network.subnet, 'network');
    const held = await tx.networkAddress.findMany({ where: { networkId: network.id }, select: { address: true } });
    const address = lowestFree(cidr, new Set(held.map((a) => a.address)));
    if (!address) {
      throw new ForkdError('ERR_CONFLICT', `network ${network.name}'s subnet ${formatCidr(cidr)} is full: all ${vmCapacity(cidr)} addresses are held`, { field: 'network' });
    }
    try {
      await tx.networkAddress.create({ data: { networkId: network.id, address, vmId } });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AddressTaken(address);
      throw err;
    }
    return address;
  }

  /** What hostd needs to put the VM on the network. */
  attachment(network: NetworkRow, address: string, aliases: string[]): NetworkAttachment {
    return {
      networkId: network.id, tenantId: network.tenantId, name: network.name, subnet: network.subnet, gateway: network.gateway,
      address, internal: network.internal, aliases,
    };
  }

  /** Frees the VM's address (none held: nothing happens). */
  async release(vmId: string): Promise<void> {
    await this.db.networkAddress.deleteMany({ where: { vmId } });
  }
}

/** Runs `transaction` (which calls `allocate`) again when the address it picked was taken by a concurrent create. */
export async function withAddressRetry<T>(transaction: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (err) {
      if (!(err instanceof AddressTaken) || attempt >= ALLOCATE_ATTEMPTS) {
        if (err instanceof AddressTaken) throw new ForkdError('ERR_CONFLICT', `could not take an address on the network after ${attempt} tries: too many creates at once, try again`, { field: 'network' });
        throw err;
      }
    }
  }
}
