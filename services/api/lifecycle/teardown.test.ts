import { describe, expect, it } from 'vitest';
import { journalTeardown, TEARDOWN_ATTEMPTS, teardownJobId } from './teardown.js';

function fakes(outcome: 'ok' | 'fail') {
  const enqueued: Array<{ hostId: string; name: string; input: unknown; opts: unknown }> = [];
  const deleted: unknown[] = [];
  const warned: string[] = [];
  let settle!: () => void;
  const answered = new Promise<void>((r) => { settle = r; });
  const deps = {
    hostJobs: {
      enqueue: async (hostId: string, name: string, input: unknown, opts: unknown) => {
        enqueued.push({ hostId, name, input, opts });
        const finished = answered.then(() => (outcome === 'ok' ? { destroyed: true } : Promise.reject(new Error('host gone'))));
        return { finished };
      },
    },
    db: { vm: { deleteMany: async (q: unknown) => { deleted.push(q); return { count: 1 }; } } },
    log: { warn: (msg: string) => { warned.push(msg); } },
  };
  return { deps: deps as unknown as Parameters<typeof journalTeardown>[0], enqueued, deleted, warned, settle };
}

describe('a journaled teardown', () => {
  it('returns once the destroy is on the host\'s queue, and deletes the gone row only when the host answered', async () => {
    const f = fakes('ok');
    await journalTeardown(f.deps, 'h1', 'vm-1');
    expect(f.enqueued).toEqual([{ hostId: 'h1', name: 'vm.destroy', input: { vmId: 'vm-1' }, opts: { jobId: teardownJobId('vm-1'), attempts: TEARDOWN_ATTEMPTS } }]);
    expect(f.deleted).toEqual([]); // not yet: the host has not answered
    f.settle();
    await expect.poll(() => f.deleted).toEqual([{ where: { id: 'vm-1', state: 'gone' } }]);
  });

  it('leaves the row to the reconciler when the destroy fails for good, and says so', async () => {
    const f = fakes('fail');
    await journalTeardown(f.deps, 'h1', 'vm-2');
    f.settle();
    await expect.poll(() => f.warned.length).toBe(1);
    expect(f.deleted).toEqual([]);
  });

  it('names one job per VM, so a second removal of the same VM adds nothing', () => {
    expect(teardownJobId('abc')).toBe(teardownJobId('abc'));
    expect(teardownJobId('abc')).not.toBe(teardownJobId('abd'));
    expect(teardownJobId('abc')).not.toContain(':'); // BullMQ refuses ':' in custom ids
  });
});
