// Opening Redis the same way everywhere: REDIS_URL is `redis://`, `rediss://`, or
// `redis+unix:///path/to.sock` (what the private server uses).
import { Redis, type RedisOptions } from 'ioredis';
import { ForkdError } from './errors.js';

export function parseRedisUrl(url: string): RedisOptions {
  if (url.startsWith('redis+unix://') || url.startsWith('unix://')) {
    const path = url.replace(/^(redis\+)?unix:\/\//, '');
    if (!path.startsWith('/')) throw new ForkdError('ERR_CONFIG', `REDIS_URL unix socket path must be absolute (got ${JSON.stringify(url)})`, { field: 'REDIS_URL' });
    return { path };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ForkdError('ERR_CONFIG', `REDIS_URL is not a URL (got ${JSON.stringify(url)})`, { field: 'REDIS_URL' });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ForkdError('ERR_CONFIG', `REDIS_URL must start with redis://, rediss:// or redis+unix:// (got ${parsed.protocol})`, { field: 'REDIS_URL' });
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(Number.isInteger(db) ? { db } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * A connection for BullMQ (which needs `maxRetriesPerRequest: null` for
 * blocking commands). Resolves once connected, or fails fast with a clear error.
 */
export async function connectRedis(url: string, timeoutMs = 5_000): Promise<Redis> {
  const client = new Redis({ ...parseRedisUrl(url), maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: timeoutMs });
  let lastError: unknown;
  client.on('error', (err) => { lastError = err; });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new ForkdError('ERR_CONFIG', `cannot reach Redis at ${url}: ${(err as Error).message ?? lastError}`, { field: 'REDIS_URL', cause: err });
  }
  return client;
}
