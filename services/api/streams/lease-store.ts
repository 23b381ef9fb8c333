// Where stream leases live: one Redis sorted set per tenant and one per host,
// member = lease id, score = when the lease expires (Redis server time, ms).
// A lease that is not renewed expires by itself, so an API process that
// crashes, or a client that vanishes without a close, leaks nothing: the next
// acquire sweeps expired members before it counts.
import type { Redis } from 'ioredis';

export type AcquireOutcome = 'ok' | 'tenant-full' | 'host-full';

export interface LeaseKeys {
  tenant: string;
  host: string;
}

export interface LeaseLimits {
  perTenant: number;
  perHost: number;
}

/** The storage the limiter needs; Redis in production, a fake in unit tests. */
export interface LeaseStore {
  /** Counts the live leases of both keys and adds `leaseId` to both, atomically, if both are under their limit. */
  acquire(keys: LeaseKeys, leaseId: string, limits: LeaseLimits, leaseMs: number): Promise<AcquireOutcome>;
  /** Pushes the lease's expiry to now + leaseMs (re-adding it if it had expired: the stream is alive). */
  renew(keys: LeaseKeys, leaseId: string, leaseMs: number): Promise<void>;
  release(keys: LeaseKeys, leaseId: string): Promise<void>;
}

export function leaseKeys(tenantId: string, hostId: string): LeaseKeys {
  return { tenant: `forkd:streams:tenant:${tenantId}`, host: `forkd:streams:host:${hostId}` };
}

// Server time, so API processes with skewed clocks agree on what expired.
const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 2 end
local leaseMs = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], now + leaseMs, ARGV[1])
redis.call('ZADD', KEYS[2], now + leaseMs, ARGV[1])
redis.call('PEXPIRE', KEYS[1], leaseMs * 2)
redis.call('PEXPIRE', KEYS[2], leaseMs * 2)
return 0`;

const RENEW = `${NOW}
local leaseMs = tonumber(ARGV[2])
for _, k in ipairs(KEYS) do
  redis.call('ZADD', k, now + leaseMs, ARGV[1])
  redis.call('PEXPIRE', k, leaseMs * 2)
end
return 0`;

export class RedisLeaseStore implements LeaseStore {
  constructor(private readonly redis: Redis) {}

  async acquire(keys: LeaseKeys, leaseId: string, limits: LeaseLimits, leaseMs: number): Promise<AcquireOutcome> {
    const r = Number(await this.redis.eval(ACQUIRE, 2, keys.tenant, keys.host, leaseId, limits.perTenant, limits.perHost, leaseMs));
    return r === 0 ? 'ok' : r === 1 ? 'tenant-full' : 'host-full';
  }

  async renew(keys: LeaseKeys, leaseId: string, leaseMs: number): Promise<void> {
    await this.redis.eval(RENEW, 2, keys.tenant, keys.host, leaseId, leaseMs);
  }

  async release(keys: LeaseKeys, leaseId: string): Promise<void> {
    await this.redis.multi().zrem(keys.tenant, leaseId).zrem(keys.host, leaseId).exec();
  }
}
