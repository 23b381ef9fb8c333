import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import type { AcquireOutcome, LeaseKeys, LeaseLimits, LeaseStore } from './lease-store.js';
import { StreamLimiter } from './stream-limiter.js';

/** The Redis store's semantics on a Map, with Date.now() (faked) as the clock. */
class FakeLeaseStore implements LeaseStore {
  readonly sets = new Map<string, Map<string, number>>();
  renewals = 0;

  private live(key: string): Map<string, number> {
    const set = this.sets.get(key) ?? new Map<string, number>();
    this.sets.set(key, set);
    for (const [id, expires] of set) if (expires <= Date.now()) set.delete(id);
    return set;
  }

  async acquire(keys: LeaseKeys, leaseId: string, limits: LeaseLimits, leaseMs: number): Promise<AcquireOutcome> {
    const t = this.live(keys.tenant);
    const h = this.live(keys.host);
    if (t.size >= limits.perTenant) return 'tenant-full';
    if (h.size >= limits.perHost) return 'host-full';
    t.set(leaseId, Date.now() + leaseMs);
    h.set(leaseId, Date.now() + leaseMs);
    return 'ok';
  }

  async renew(keys: LeaseKeys, leaseId: string, leaseMs: number): Promise<void> {
    this.renewals++;
    for (const k of [keys.tenant, keys.host]) this.live(k).set(leaseId, Date.now() + leaseMs);
  }

  async release(keys: LeaseKeys, leaseId: string): Promise<void> {
    for (const k of [keys.tenant, keys.host]) this.live(k).delete(leaseId);
  }
}

async function refusal(p: Promise<unknown>): Promise<ForkdError> {
  try {
    await p;
  } catch (err) {
    return err as ForkdError;
  }
  throw new Error('expected the stream to be refused');
}

describe('StreamLimiter', () => {
  let store: FakeLeaseStore;
  beforeEach(() => {
    vi.useFakeTimers();
    store = new FakeLeaseStore();
  });
  afterEach(() => vi.useRealTimers());

  it('admits a tenant up to its limit, refuses the next with 429, and frees the slot on release', async () => {
    const limiter = new StreamLimiter(store, { perTenant: 3, perHost: 100 });
    const held = [await limiter.acquire('t1', 'h1'), await limiter.acquire('t1', 'h1'), await limiter.acquire('t1', 'h2')];
    const err = await refusal(limiter.acquire('t1', 'h1'));
    expect(err).toBeInstanceOf(ForkdError);
    expect(err).toMatchObject({ code: 'ERR_TOO_MANY_STREAMS', status: 429, detail: { scope: 'tenant', limit: 3, setting: 'FORKD_STREAMS_PER_TENANT' } });
    expect(err.message).toMatch(/3 open streams.*FORKD_STREAMS_PER_TENANT/);
    // Another tenant on the same host is not affected.
    await expect(limiter.acquire('t2', 'h1')).resolves.toMatchObject({ id: expect.any(String) });
    await held[0]!.release();
    await expect(limiter.acquire('t1', 'h1')).resolves.toMatchObject({ id: expect.any(String) });
  });

  it('caps all tenants together on one host, and only that host', async () => {
    const limiter = new StreamLimiter(store, { perTenant: 10, perHost: 2 });
    await limiter.acquire('t1', 'h1');
    await limiter.acquire('t2', 'h1');
    expect(await refusal(limiter.acquire('t3', 'h1'))).toMatchObject({ code: 'ERR_TOO_MANY_STREAMS', detail: { scope: 'host', hostId: 'h1', setting: 'FORKD_STREAMS_PER_HOST' } });
    await expect(limiter.acquire('t3', 'h2')).resolves.toBeDefined();
  });

  it('keeps a live stream counted by renewing it, and lets a lease whose owner died expire', async () => {
    // The API process that holds the lease reaches the store through `link`; cutting it is the process dying.
    let alive = true;
    const link: LeaseStore = {
      acquire: (...a) => store.acquire(...a),
      renew: async (...a) => { if (!alive) throw new Error('process gone'); return store.renew(...a); },
      release: (...a) => store.release(...a),
    };
    const renewErrors: unknown[] = [];
    const dying = new StreamLimiter(link, { perTenant: 1, perHost: 10, leaseMs: 30_000, onRenewError: (e) => renewErrors.push(e) });
    const other = new StreamLimiter(store, { perTenant: 1, perHost: 10, leaseMs: 30_000 });
    await dying.acquire('t1', 'h1');
    // Alive: ten lease lengths later it still holds the slot.
    await vi.advanceTimersByTimeAsync(300_000);
    expect(store.renewals).toBeGreaterThan(0);
    expect(await refusal(other.acquire('t1', 'h1'))).toMatchObject({ code: 'ERR_TOO_MANY_STREAMS' });
    // It dies without releasing: one lease length later the slot is free for another API process.
    alive = false;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(renewErrors.length).toBeGreaterThan(0);
    await expect(other.acquire('t1', 'h1')).resolves.toBeDefined();
  });

  it('stops renewing on release, and a second release is harmless', async () => {
    const limiter = new StreamLimiter(store, { perTenant: 1, perHost: 10, leaseMs: 30_000 });
    const lease = await limiter.acquire('t1', 'h1');
    await vi.advanceTimersByTimeAsync(10_000);
    const before = store.renewals;
    expect(before).toBe(1);
    await lease.release();
    await lease.release();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.renewals).toBe(before);
    const next = await limiter.acquire('t1', 'h1');
    await lease.release(); // the old lease's release does not free the new one
    expect(await refusal(limiter.acquire('t1', 'h1'))).toMatchObject({ code: 'ERR_TOO_MANY_STREAMS' });
    await next.release();
    await expect(limiter.acquire('t1', 'h1')).resolves.toBeDefined();
  });
});
