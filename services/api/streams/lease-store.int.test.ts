// The Redis lease store on a real Redis: the count and the add are one atomic
// step (parallel acquires never pass the limit together), and a lease nobody
// renews is swept by the next acquire.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../contracts/redis.js';
import { PrivateRedis } from '../../cli/private-redis.js';
import { RedisLeaseStore, leaseKeys } from './lease-store.js';

let dir: string;
let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forkd-leases-'));
  server = new PrivateRedis(join(dir, 'redis.sock'), join(dir, 'redis'));
  await server.start();
  redis = await connectRedis(server.url);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('RedisLeaseStore', () => {
  it('admits exactly the limit out of many parallel acquires, and one more after a release', async () => {
    const store = new RedisLeaseStore(redis);
    const keys = leaseKeys('t-par', 'h-par');
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => store.acquire(keys, `l${i}`, { perTenant: 3, perHost: 100 }, 60_000)));
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'tenant-full')).toHaveLength(17);
    const holder = `l${outcomes.indexOf('ok')}`;
    await store.release(keys, holder);
    expect(await store.acquire(keys, 'after', { perTenant: 3, perHost: 100 }, 60_000)).toBe('ok');
    expect(await store.acquire(keys, 'again', { perTenant: 3, perHost: 100 }, 60_000)).toBe('tenant-full');
  });

  it('counts a host across tenants', async () => {
    const store = new RedisLeaseStore(redis);
    expect(await store.acquire(leaseKeys('ta', 'h-shared'), 'a', { perTenant: 5, perHost: 1 }, 60_000)).toBe('ok');
    expect(await store.acquire(leaseKeys('tb', 'h-shared'), 'b', { perTenant: 5, perHost: 1 }, 60_000)).toBe('host-full');
    expect(await store.acquire(leaseKeys('tb', 'h-other'), 'b', { perTenant: 5, perHost: 1 }, 60_000)).toBe('ok');
  });

  it('drops a lease nobody renews, and keeps one that is renewed', async () => {
    const store = new RedisLeaseStore(redis);
    const limits = { perTenant: 1, perHost: 10 };
    const dead = leaseKeys('t-dead', 'h-exp');
    const live = leaseKeys('t-live', 'h-exp');
    expect(await store.acquire(dead, 'dead', limits, 300)).toBe('ok');
    expect(await store.acquire(live, 'live', limits, 300)).toBe('ok');
    // Bounded polling, not a timing: the abandoned lease frees its tenant's slot; the renewed one never does.
    let freed = false;
    for (let i = 0; i < 100 && !freed; i++) {
      await store.renew(live, 'live', 60_000);
      await new Promise((r) => setTimeout(r, 50));
      freed = (await store.acquire(dead, `next${i}`, limits, 60_000)) === 'ok';
    }
    expect(freed).toBe(true);
    expect(await store.acquire(live, 'other', limits, 60_000)).toBe('tenant-full');
    // The keys carry a TTL, so a tenant that stops streaming leaves no key forever.
    expect(await redis.pttl(dead.tenant)).toBeGreaterThan(0);
  });
});
