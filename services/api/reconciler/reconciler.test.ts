// The reconciler's acting half with fakes: the host's answers and a small
// in-memory database. The deciding half is diff.test.ts.
import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import type { PrismaClient } from '../db/client.js';
import type { HostJobs } from '../host-jobs.js';
import { Reconciler } from './reconciler.js';

type Row = { id: string; state: string; [k: string]: unknown };
const OLD = new Date('2026-01-01T00:00:00Z');

function fakeDb(vms: Row[], containers: Row[]) {
  const vm = new Map(vms.map((r) => [r.id, { tenantId: 't1', hostId: 'h1', updatedAt: OLD, ...r }]));
  const ctr = new Map(containers.map((r) => [r.id, { ...r }]));
  const addresses = new Set(vms.map((r) => r.id));
  const operations: Array<Record<string, unknown>> = [];
  const tableOf = (m: Map<string, Row>) => ({
    findUnique: async ({ where }: { where: { id: string } }) => m.get(where.id) ?? null,
    findUniqueOrThrow: async ({ where }: { where: { id: string } }) => m.get(where.id)!,
    updateMany: async ({ where, data }: { where: { id: string; state: string }; data: Record<string, unknown> }) => {
      const r = m.get(where.id);
      if (!r || r.state !== where.state) return { count: 0 };
      Object.assign(r, data);
      return { count: 1 };
    },
  });
  const db = {
    vm: {
      ...tableOf(vm),
      findMany: async ({ where }: { where: { hostId: string; OR: [{ state: { in: string[] } }, { id: { in: string[] } }] } }) =>
        [...vm.values()].filter((r) => r.hostId === where.hostId && (where.OR[0].state.in.includes(r.state) || where.OR[1].id.in.includes(r.id))),
    },
    container: {
      ...tableOf(ctr),
      findMany: async ({ where }: { where: { vmId: string; state: { in: string[] } } }) => [...ctr.values()].filter((c) => c.vmId === where.vmId && where.state.in.includes(c.state)),
    },
    networkAddress: { deleteMany: async ({ where }: { where: { vmId: string } }) => ({ count: addresses.delete(where.vmId) ? 1 : 0 }) },
    operation: { create: async ({ data }: { data: Record<string, unknown> }) => { operations.push(data); return data; } },
    $transaction: async (fn: (tx: unknown) => Promise<unknown>) => fn(db),
  };
  return { db: db as unknown as PrismaClient, vm, ctr, addresses, operations };
}

function fakeHost(listed: string[] | Error, destroy: (vmId: string) => void = () => undefined) {
  const calls: string[] = [];
  const jobs = {
    listHosts: async () => [{ hostId: 'h1', up: true }, { hostId: 'h-down', up: false }],
    call: async (hostId: string, name: string, input: { vmId?: string }) => {
      calls.push(`${hostId}:${name}${input.vmId ? `:${input.vmId}` : ''}`);
      if (name === 'vm.list') {
        if (listed instanceof Error) throw listed;
        return { vms: listed.map((vmId) => ({ vmId, domainName: `forkd-vm-${vmId}`, running: true, state: 'running' })) };
      }
      destroy(input.vmId!);
      return { destroyed: true };
    },
  } as unknown as HostJobs;
  return { jobs, calls };
}

const quiet = { info: () => undefined, warn: () => undefined };

describe('the reconciler', () => {
  it('marks a VM its host no longer runs lost, fails its container, frees its address and records why; a listed VM is untouched', async () => {
    const f = fakeDb([{ id: 'lost-one', state: 'running' }, { id: 'fine', state: 'running' }], [{ id: 'c1', vmId: 'lost-one', state: 'running' }, { id: 'c2', vmId: 'fine', state: 'running' }]);
    const h = fakeHost(['fine']);
    const report = await new Reconciler(f.db, h.jobs, quiet, { orphanGraceMs: 0 }).reconcile();
    expect(report.hosts).toEqual([{ hostId: 'h1', lost: ['lost-one'], destroyed: [], destroyFailed: [], waiting: [] }]);
    expect(f.vm.get('lost-one')!.state).toBe('lost');
    expect(f.ctr.get('c1')!.state).toBe('failed');
    expect(f.addresses.has('lost-one')).toBe(false);
    expect(f.operations).toEqual([expect.objectContaining({ kind: 'vm.lost', targetId: 'lost-one', tenantId: 't1' })]);
    // Positive control, same round: the VM its host lists keeps everything.
    expect(f.vm.get('fine')!.state).toBe('running');
    expect(f.ctr.get('c2')!.state).toBe('running');
    expect(f.addresses.has('fine')).toBe(true);
    // Down hosts are not asked.
    expect(h.calls).toEqual(['h1:vm.list']);
  });

  it('retries an orphan whose destroy failed in the next round, and marks its failed row gone once it succeeds', async () => {
    const f = fakeDb([{ id: 'timed-out', state: 'failed' }], []);
    let failing = true;
    const h = fakeHost(['timed-out', 'stray'], (vmId) => { if (failing && vmId === 'stray') throw new ForkdError('ERR_LIBVIRT', 'busy'); });
    const r = new Reconciler(f.db, h.jobs, quiet, { orphanGraceMs: 0 });
    expect((await r.reconcile()).hosts[0]).toMatchObject({ destroyed: ['timed-out'], destroyFailed: ['stray'] });
    expect(f.vm.get('timed-out')!.state).toBe('gone');
    failing = false;
    expect((await r.reconcile()).hosts[0]).toMatchObject({ destroyFailed: [], destroyed: expect.arrayContaining(['stray']) });
  });

  it('skips a host that does not list its VMs, touching none of its rows', async () => {
    const f = fakeDb([{ id: 'v1', state: 'running' }], []);
    const report = await new Reconciler(f.db, fakeHost(new ForkdError('ERR_TIMEOUT', 'no answer')).jobs, quiet, { orphanGraceMs: 0 }).reconcile();
    expect(report.hosts[0]).toMatchObject({ hostId: 'h1', error: 'no answer', lost: [] });
    expect(f.vm.get('v1')!.state).toBe('running');
  });

  it('waits out the grace before destroying an orphan, and reports it as waiting', async () => {
    const f = fakeDb([], []);
    const h = fakeHost(['stray']);
    expect((await new Reconciler(f.db, h.jobs, quiet, { orphanGraceMs: 3_600_000 }).reconcile()).hosts[0]).toMatchObject({ waiting: ['stray'], destroyed: [] });
    expect(h.calls).toEqual(['h1:vm.list']);
  });
});
