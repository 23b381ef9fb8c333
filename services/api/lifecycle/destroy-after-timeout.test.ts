import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import type { PrismaClient } from '../db/client.js';
import type { HostJobs } from '../host-jobs.js';
import { destroyAfterTimeout } from './destroy-after-timeout.js';
import { fakeDb } from './fake-db.js';

function hostJobs(outcome: 'ok' | 'fail'): { jobs: HostJobs; calls: string[] } {
  const calls: string[] = [];
  const jobs = {
    call: async (hostId: string, name: string) => {
      calls.push(`${hostId}:${name}`);
      if (outcome === 'fail') throw new ForkdError('ERR_HOST_UNAVAILABLE', 'host h1 does not answer');
      return { destroyed: true };
    },
  } as unknown as HostJobs;
  return { jobs, calls };
}

describe('after a create timed out', () => {
  it('marks the failed VM gone only once its host confirms the destroy, and leaves it failed for the reconciler otherwise', async () => {
    const warnings: string[] = [];
    const log = { warn: (msg: string) => { warnings.push(msg); } };

    const ok = fakeDb({ vm: { v1: 'failed' } });
    const good = hostJobs('ok');
    expect(await destroyAfterTimeout(ok.db as unknown as PrismaClient, good.jobs, log, 'h1', 'v1')).toBe(true);
    expect(good.calls).toEqual(['h1:vm.destroy']);
    expect(ok.vm.get('v1')!.state).toBe('gone');
    expect(warnings).toEqual([]);

    const bad = fakeDb({ vm: { v1: 'failed' } });
    expect(await destroyAfterTimeout(bad.db as unknown as PrismaClient, hostJobs('fail').jobs, log, 'h1', 'v1')).toBe(false);
    expect(bad.vm.get('v1')!.state).toBe('failed');
    expect(warnings).toEqual([expect.stringContaining('the reconciler retries')]);
  });
});
