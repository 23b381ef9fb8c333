// VMs without a container: forked from a template (`POST /v1/vms`), for callers
// that drive the guest themselves (VDI desktops, app templates already running).
import { randomUUID } from 'node:crypto';
import { ForkdError } from '../contracts/errors.js';
import type { PrismaClient } from './db/client.js';
import type { HostJobs } from './host-jobs.js';
import { randomMac } from './vm-mac.js';
import type { Templates } from './templates.js';

export interface VmView {
  id: string;
  hostId: string;
  template: string | null;
  domainName: string;
  boot: string;
  state: string;
  vcpus: number;
  memoryMib: number;
  containers: number;
  createdAt: string;
  timings?: Record<string, number>;
}

type Row = NonNullable<Awaited<ReturnType<PrismaClient['vm']['findFirst']>>> & { _count?: { containers: number } };

export class Vms {
  constructor(private readonly db: PrismaClient, private readonly templates: Templates, private readonly hostJobs: HostJobs) {}

  view(row: Row, timings?: Record<string, number>): VmView {
    return {
      id: row.id, hostId: row.hostId, template: row.templateId, domainName: row.domainName, boot: row.bootMode, state: row.state,
      vcpus: row.vcpus, memoryMib: row.memoryMib, containers: row._count?.containers ?? 0, createdAt: row.createdAt.toISOString(),
      ...(timings ? { timings } : {}),
    };
  }

  async fork(tenantId: string, templateId: string, usePool: boolean): Promise<VmView> {
    const t = await this.templates.row(tenantId, templateId);
    if (t.state !== 'ready') throw new ForkdError('ERR_CONFLICT', `template ${t.id} is ${t.state}, not ready`, { field: 'template' });
    const vmId = randomUUID();
    await this.db.vm.create({
      data: { id: vmId, tenantId, hostId: t.hostId, templateId: t.id, domainName: `forkd-vm-${vmId}`, vcpus: t.vcpus, memoryMib: t.memoryMib, mac: randomMac(), bootMode: usePool ? 'pool' : 'fork' },
    });
    try {
      const facts = await this.hostJobs.call(t.hostId, 'vm.fork', { vmId, templateId: t.id, usePool }, { timeoutMs: 300_000 });
      const row = await this.db.vm.update({ where: { id: vmId }, data: { state: 'running', startedAt: new Date(), bootMode: facts.boot }, include: { _count: { select: { containers: true } } } });
      return this.view(row, facts.timings);
    } catch (err) {
      const fe = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String(err));
      if (fe.code === 'ERR_TEMPLATE_STALE' || fe.code === 'ERR_TEMPLATE_CORRUPT') await this.templates.markUnusable(t.id, fe.message);
      if (fe.code === 'ERR_TIMEOUT') {
        await this.db.vm.update({ where: { id: vmId }, data: { state: 'failed' } }).catch(() => {});
        void this.hostJobs.call(t.hostId, 'vm.destroy', { vmId }).catch(() => {});
      } else {
        await this.db.vm.delete({ where: { id: vmId } }).catch(() => {});
      }
      throw fe;
    }
  }

  async row(tenantId: string, id: string): Promise<Row> {
    const row = await this.db.vm.findFirst({ where: { tenantId, OR: [{ id }, { domainName: id }] }, include: { _count: { select: { containers: true } } } });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no VM ${JSON.stringify(id)}`);
    return row;
  }

  async list(tenantId: string): Promise<VmView[]> {
    const rows = await this.db.vm.findMany({ where: { tenantId, state: { notIn: ['gone'] } }, include: { _count: { select: { containers: true } } }, orderBy: { createdAt: 'desc' } });
    return rows.map((r) => this.view(r));
  }

  /** Destroys the VM and anything in it; its containers' rows go with it. */
  async remove(tenantId: string, id: string): Promise<VmView> {
    const row = await this.row(tenantId, id);
    await this.hostJobs.call(row.hostId, 'vm.destroy', { vmId: row.id });
    await this.db.vm.delete({ where: { id: row.id } });
    return { ...this.view(row), state: 'gone' };
  }
}
