import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { forkQuota } from './fork-quota.js';

describe('forkQuota', () => {
  it('answers a quota refusal of the children as 403 ERR_FORK_QUOTA, keeping the field and adding the count', async () => {
    const quota = new ForkdError('ERR_QUOTA', 'tenant acme may run 4 VMs and has 4', { field: 'maxVms', detail: { maxVms: 4, vms: 4 } });
    const err = await forkQuota(3, () => Promise.reject(quota)).catch((e: unknown) => e as ForkdError);
    expect(err).toMatchObject({ code: 'ERR_FORK_QUOTA', status: 403, field: 'maxVms', detail: { maxVms: 4, vms: 4, count: 3 } });
    expect(err.message).toMatch(/a fork of 3 would pass the tenant's quota .*may run 4 VMs.*nothing was created/);
  });

  it('passes results and every other error through unchanged (the control)', async () => {
    expect(await forkQuota(1, async () => 'made')).toBe('made');
    const conflict = new ForkdError('ERR_CONFLICT', 'name taken', { field: 'name' });
    await expect(forkQuota(1, () => Promise.reject(conflict))).rejects.toBe(conflict);
  });
});
