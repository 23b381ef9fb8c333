// Tenant networks: the rules (names, subnets, the lazy `default`, who may
// delete) and the rows. Addresses on a network are addresses.ts's business;
// how a network exists on a host is hostd's.
import { oneRow, scopeWhere, type Owner } from '../tenancy/scope.js';
import { NO_EVENTS, type EventPublisher } from '../../contracts/events/index.js';
import { ForkdError } from '../../contracts/errors.js';
import { errorFields, type Logger } from '../../contracts/logger.js';
import type { PrismaClient } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import type { HostJobs } from '../host-jobs.js';
import { checkLabels } from '../volumes/rules.js';
import { DEFAULT_NETWORK, autoSubnet, gatewayOf, overlaps, parseSubnet, formatCidr } from './ipam.js';

export interface CreateNetworkBody {
  name: string;
  subnet?: string;
  internal?: boolean;
  labels?: Record<string, string>;
}

export interface NetworkView {
  id: string;
  tenantId: string;
  name: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  labels: Record<string, string>;
  /** The host it lives on once a VM joined it. */
  hostId: string | null;
  createdAt: string;
  /** Containers holding an address on it. */
  containers: Array<{ id: string; name: string; address: string }>;
  /** VMs without a container (POST /v1/vms) holding an address on it. */
  vms: Array<{ id: string; address: string }>;
}

export type NetworkRow = NonNullable<Awaited<ReturnType<PrismaClient['network']['findFirst']>>>;

const WITH_HOLDERS = { addresses: { include: { vm: { include: { containers: { select: { id: true, name: true } } } } }, orderBy: { address: 'asc' } } } as const;
type RowWithHolders = NonNullable<Awaited<ReturnType<Networks['rowWithHolders']>>>;

/** How long DELETE's best-effort `network.remove` on the host may take. */
const REMOVE_ON_HOST_TIMEOUT_MS = 60_000;

export class Networks {
  constructor(private readonly db: PrismaClient, private readonly hostJobs: HostJobs, private readonly log?: Pick<Logger, 'warn'>, private readonly events: EventPublisher = NO_EVENTS) {}

  /** The tenant's `default` network, made on first need; concurrent callers get the same row. */
  async ensureDefault(tenantId: string): Promise<NetworkRow> {
    const where = { tenantId_name: { tenantId, name: DEFAULT_NETWORK.name } };
    const found = await this.db.network.findUnique({ where });
    if (found) return found;
    const subnet = parseSubnet(DEFAULT_NETWORK.subnet);
    try {
      return await this.db.network.create({ data: { tenantId, name: DEFAULT_NETWORK.name, subnet: formatCidr(subnet), gateway: gatewayOf(subnet) } });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      return this.db.network.findUniqueOrThrow({ where }); // another request made it first
    }
  }

  /** By id or name; `default` is made when missing. ERR_NOT_FOUND names `field`. */
  async resolve(owner: Owner, idOrName: string, field = 'network'): Promise<NetworkRow> {
    if (typeof owner !== 'string') {
      if (!('all' in owner)) return this.resolve(owner.tenantId, idOrName, field);
      // Across tenants: an id anywhere; a name the preferred tenant's (every tenant has a `default`), else one no other tenant uses.
      const byId = await this.db.network.findFirst({ where: { id: idOrName } });
      if (byId) return byId;
      if (owner.prefer) return this.resolve(owner.prefer, idOrName, field);
      return oneRow(await this.db.network.findMany({ where: { name: idOrName }, take: 100 }), 'network', idOrName, field, owner);
    }
    const tenantId = owner;
    if (idOrName === DEFAULT_NETWORK.name) return this.ensureDefault(tenantId);
    const row = await this.db.network.findFirst({ where: { tenantId, OR: [{ id: idOrName }, { name: idOrName }] } });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no network ${JSON.stringify(idOrName)}`, { field });
    return row;
  }

  async create(tenantId: string, body: CreateNetworkBody): Promise<NetworkView> {
    const labels = checkLabels(body.labels);
    await this.ensureDefault(tenantId);
    const others = await this.db.network.findMany({ where: { tenantId } });
    if (others.some((n) => n.name === body.name)) throw new ForkdError('ERR_CONFLICT', `a network named ${JSON.stringify(body.name)} exists`, { field: 'name' });
    const theirs = others.map((n) => ({ name: n.name, cidr: parseSubnet(n.subnet) }));
    let subnet: string;
    if (body.subnet !== undefined) {
      const want = parseSubnet(body.subnet);
      const clash = theirs.find((o) => overlaps(want, o.cidr));
      if (clash) throw new ForkdError('ERR_CONFLICT', `subnet ${formatCidr(want)} overlaps network ${clash.name} (${formatCidr(clash.cidr)})`, { field: 'subnet' });
      subnet = formatCidr(want);
    } else {
      const auto = autoSubnet(theirs.map((o) => o.cidr));
      if (!auto) throw new ForkdError('ERR_CONFLICT', 'every 10.89.N.0/24 overlaps one of your networks: give --subnet', { field: 'subnet' });
      subnet = auto;
    }
    // Two creates racing past the overlap check above can both land; the name is the only thing the database enforces.
    try {
      const row = await this.db.network.create({
        data: { tenantId, name: body.name, subnet, gateway: gatewayOf(parseSubnet(subnet)), internal: body.internal ?? false, ...(labels ? { labels } : {}) },
      });
      await this.events.publish({ type: 'network', action: 'create', tenantId, actor: { id: row.id, name: row.name, attributes: { subnet, internal: String(row.internal) } } });
      return this.view({ ...row, addresses: [] });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ForkdError('ERR_CONFLICT', `a network named ${JSON.stringify(body.name)} exists`, { field: 'name' });
      throw err;
    }
  }

  async list(owner: Owner): Promise<NetworkView[]> {
    const where = scopeWhere(owner);
    if (where.tenantId) await this.ensureDefault(where.tenantId);
    const rows = await this.db.network.findMany({ where, include: WITH_HOLDERS, orderBy: [{ name: 'asc' }, { tenantId: 'asc' }] });
    return rows.map((r) => this.view(r));
  }

  async get(owner: Owner, idOrName: string): Promise<NetworkView> {
    const { id } = await this.resolve(owner, idOrName, 'id');
    return this.view((await this.rowWithHolders(id))!);
  }

  /**
   * Deletes an unused network (never `default`), then asks its host, if it
   * has one, to take it down; that last step is best effort (hostd's job is
   * idempotent, and a host that was down has nothing running for it).
   */
  async remove(owner: Owner, idOrName: string): Promise<NetworkView> {
    const row = await this.resolve(owner, idOrName, 'id');
    if (row.name === DEFAULT_NETWORK.name) throw new ForkdError('ERR_CONFLICT', 'the default network cannot be deleted', { field: 'id' });
    // One statement: an address taken between a check and the delete would otherwise be cascaded away.
    const { count } = await this.db.network.deleteMany({ where: { id: row.id, addresses: { none: {} } } });
    const view = this.view((await this.rowWithHolders(row.id)) ?? { ...row, addresses: [] });
    if (count === 0) {
      const users = [...view.containers.map((c) => `container ${c.name}`), ...view.vms.map((v) => `VM ${v.id}`)];
      throw new ForkdError('ERR_CONFLICT', `network ${row.name} is in use by ${users.join(', ') || 'a VM being created'}: remove them first`, { field: 'id', detail: { containers: view.containers.map((c) => c.name), vms: view.vms.map((v) => v.id) } });
    }
    await this.events.publish({ type: 'network', action: 'delete', tenantId: row.tenantId, actor: { id: row.id, name: row.name, attributes: {} } });
    if (row.hostId) {
      const hostId = row.hostId;
      void this.hostJobs.call(hostId, 'network.remove', { networkId: row.id }, { timeoutMs: REMOVE_ON_HOST_TIMEOUT_MS }).catch((err: unknown) => {
        this.log?.warn('network.remove failed on its host; the host keeps an unused network until it is removed there', { networkId: row.id, hostId, ...errorFields(err) });
      });
    }
    return view;
  }

  private rowWithHolders(id: string) {
    return this.db.network.findUnique({ where: { id }, include: WITH_HOLDERS });
  }

  view(row: Omit<RowWithHolders, 'addresses'> & { addresses: RowWithHolders['addresses'] | [] }): NetworkView {
    const containers: NetworkView['containers'] = [];
    const vms: NetworkView['vms'] = [];
    for (const a of row.addresses) {
      if (a.vm.containers.length === 0) vms.push({ id: a.vmId, address: a.address });
      for (const c of a.vm.containers) containers.push({ id: c.id, name: c.name, address: a.address });
    }
    return {
      id: row.id, tenantId: row.tenantId, name: row.name, subnet: row.subnet, gateway: row.gateway, internal: row.internal, labels: (row.labels as Record<string, string> | null) ?? {}, hostId: row.hostId,
      createdAt: row.createdAt.toISOString(), containers, vms,
    };
  }
}
