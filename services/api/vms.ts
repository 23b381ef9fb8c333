// VMs without a container: forked from a template (`POST /v1/vms`), for callers
// that drive the guest themselves (VDI desktops, app templates already running).
// A VM joins a network only when asked (`network`): its template fixes its
// host, and networks are host-local, so defaulting to `default` would refuse
// forks on every host but the one `default` lives on.
import { scopeWhere, type Owner } from './tenancy/scope.js';
import { randomUUID } from 'node:crypto';
import { ForkdError } from '../contracts/errors.js';
import type { PrismaClient } from './db/client.js';
import { destroyAfterTimeout } from './lifecycle/destroy-after-timeout.js';
import { vmStates } from './lifecycle/state-writes.js';
import type { HostJobs } from './host-jobs.js';
import type { Placement } from './placement.js';
import { withAddressRetry, type NetworkAddresses } from './networks/addresses.js';
import type { NetworkRow, Networks } from './networks/networks.js';
import { randomMac } from './vm-mac.js';
import type { Templates } from './templates.js';
import type { Actor } from './tenancy/policy.js';
import { precheckVmQuota, reserveVmQuota } from './tenancy/quota.js';

export interface VmView {
  id: string;
  tenantId: string;
  hostId: string;
  template: string | null;
  domainName: string;
  boot: string;
  state: string;
  vcpus: number;
  memoryMib: number;
  containers: number;
  network: { id: string; name: string; address: string } | null;
  createdAt: string;
  timings?: Record<string, number>;
}

type Row = NonNullable<Awaited<ReturnType<PrismaClient['vm']['findFirst']>>> & {
  _count?: { containers: number };
  networkAddress?: { address: string; network: { id: string; name: string } } | null;
};
const ROW_INCLUDE = { _count: { select: { containers: true } }, networkAddress: { include: { network: { select: { id: true, name: true } } } } } as const;

export class Vms {
  constructor(
    private readonly db: PrismaClient,
    private readonly templates: Templates,
    private readonly networks: Networks,
    private readonly addresses: NetworkAddresses,
    private readonly hostJobs: HostJobs,
    private readonly log: { warn(msg: string, fields?: Record<string, unknown>): void } = { warn: () => undefined },
    /** Checks the template's host is up and has room: a VM forks only where its template is. */
    private readonly placement?: Pick<Placement, 'forkHost'>,
  ) {}

  view(row: Row, timings?: Record<string, number>): VmView {
    return {
      id: row.id, tenantId: row.tenantId, hostId: row.hostId, template: row.templateId, domainName: row.domainName, boot: row.bootMode, state: row.state,
      vcpus: row.vcpus, memoryMib: row.memoryMib, containers: row._count?.containers ?? 0,
      network: row.networkAddress ? { id: row.networkAddress.network.id, name: row.networkAddress.network.name, address: row.networkAddress.address } : null,
      createdAt: row.createdAt.toISOString(),
      ...(timings ? { timings } : {}),
    };
  }

  /** Forks a VM for the actor's tenant from a template it may see; counts against the tenant's quota like a container's VM. */
  async fork(actor: Actor, templateId: string, usePool: boolean, networkRef?: string): Promise<VmView> {
    const tenantId = actor.tenantId;
    const t = await this.templates.row(actor, templateId);
    if (t.state !== 'ready') throw new ForkdError('ERR_CONFLICT', `template ${t.id} is ${t.state}, not ready`, { field: 'template' });
    await this.placement?.forkHost(t.hostId, `template ${t.id}`, 'template', { memoryMib: t.memoryMib });
    await precheckVmQuota(this.db, tenantId, t.memoryMib);
    const network = networkRef === undefined ? undefined : await this.networkOnHost(tenantId, networkRef, t.hostId);
    const vmId = randomUUID();
    const address = await withAddressRetry(() => this.db.$transaction(async (tx) => {
      await reserveVmQuota(tx, tenantId, t.memoryMib);
      await tx.vm.create({
        data: { id: vmId, tenantId, hostId: t.hostId, templateId: t.id, domainName: `forkd-vm-${vmId}`, vcpus: t.vcpus, memoryMib: t.memoryMib, mac: randomMac(), bootMode: usePool ? 'pool' : 'fork' },
      });
      return network ? this.addresses.allocate(tx, network, vmId, t.hostId) : undefined;
    }));
    try {
      const facts = await this.hostJobs.call(t.hostId, 'vm.fork', {
        vmId, templateId: t.id, usePool, ...(network && address ? { network: this.addresses.attachment(network, address, []) } : {}),
      }, { timeoutMs: 300_000 });
      await vmStates.write(this.db, vmId, 'running', { startedAt: new Date(), bootMode: facts.boot });
      const row = await this.db.vm.findUniqueOrThrow({ where: { id: vmId }, include: ROW_INCLUDE });
      return this.view(row, facts.timings);
    } catch (err) {
      const fe = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String(err));
      if (fe.code === 'ERR_TEMPLATE_STALE' || fe.code === 'ERR_TEMPLATE_CORRUPT') await this.templates.markUnusable(t.id, fe.message);
      // Best effort below: the client needs the job's error, not these.
      if (fe.code === 'ERR_TIMEOUT') {
        await this.db.$transaction(async (tx) => {
          await tx.networkAddress.deleteMany({ where: { vmId } });
          await vmStates.write(tx, vmId, 'failed');
        }).catch(() => {});
        void destroyAfterTimeout(this.db, this.hostJobs, this.log, t.hostId, vmId);
      } else {
        await this.db.$transaction([this.db.networkAddress.deleteMany({ where: { vmId } }), this.db.vm.delete({ where: { id: vmId } })]).catch(() => {});
      }
      throw fe;
    }
  }

  /** By id or domain name (both unique across tenants), within `owner`. */
  async row(owner: Owner, id: string): Promise<Row> {
    const row = await this.db.vm.findFirst({ where: { ...scopeWhere(owner), OR: [{ id }, { domainName: id }] }, include: ROW_INCLUDE });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no VM ${JSON.stringify(id)}`);
    return row;
  }

  async list(owner: Owner): Promise<VmView[]> {
    const rows = await this.db.vm.findMany({ where: { ...scopeWhere(owner), state: { notIn: ['gone'] } }, include: ROW_INCLUDE, orderBy: { createdAt: 'desc' } });
    return rows.map((r) => this.view(r));
  }

  /** Destroys the VM and anything in it; its containers' rows go with it. */
  async remove(owner: Owner, id: string): Promise<VmView> {
    const row = await this.row(owner, id);
    await this.hostJobs.call(row.hostId, 'vm.destroy', { vmId: row.id });
    await this.db.$transaction([this.db.networkAddress.deleteMany({ where: { vmId: row.id } }), this.db.vm.delete({ where: { id: row.id } })]);
    return { ...this.view(row), state: 'gone' };
  }

  /** The network a fork joins; it must live on the template's host (or nowhere yet). */
  private async networkOnHost(tenantId: string, ref: string, hostId: string): Promise<NetworkRow> {
    const network = await this.networks.resolve(tenantId, ref);
    if (network.hostId && network.hostId !== hostId) {
      throw new ForkdError('ERR_CONFLICT', `network ${network.name} lives on host ${network.hostId}, but the template is on host ${hostId}: a network's VMs share one host`, { field: 'network' });
    }
    return network;
  }
}
