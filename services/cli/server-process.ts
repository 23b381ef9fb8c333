// Runs forkd's long-lived parts in this process (`forkd up`, `forkd hostd`):
// the private Redis when REDIS_URL is unset, then the API and/or hostd, and a
// clean stop on SIGINT/SIGTERM (hostd drains its jobs first).
import { dataPaths, loadConfig, type ForkdConfig } from '../contracts/config.js';
import { CleanupStack } from '../contracts/cleanup-stack.js';
import { createLogger, errorFields, type Logger } from '../contracts/logger.js';
import { PrivateRedis } from './private-redis.js';

export interface ServerParts {
  api: boolean;
  hostd: boolean;
}

export async function runServer(parts: ServerParts): Promise<number> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, { svc: parts.api && parts.hostd ? 'forkd' : parts.api ? 'api' : 'hostd' });
  const cleanup = new CleanupStack();
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`stopping (${signal})`);
    const failed = await cleanup.run();
    for (const f of failed) log.warn(`stopping ${f.what} failed`, errorFields(f.error));
    process.exit(0);
  };
  if (parts.api) {
    // A malformed DATABASE_URL must fail before anything is started or created.
    const { parseDatabaseUrl } = await import('../api/db/database-url.js');
    parseDatabaseUrl({ url: config.databaseUrl, dataDir: config.dataDir });
  }
  try {
    const redisUrl = await redisFor(config, cleanup, log);
    if (parts.hostd) {
      const { startHostd } = await import('../hostd/main.js');
      const hostd = await startHostd(config, redisUrl, log);
      cleanup.push('hostd', () => hostd.stop());
    }
    if (parts.api) {
      const { startApi } = await import('../api/main.js');
      const api = await startApi(config, redisUrl, log);
      cleanup.push('api', () => api.stop());
      process.stderr.write(`forkd is up: ${api.url}  (admin key: ${dataPaths(config.dataDir).adminKey})\n`);
    }
  } catch (err) {
    await cleanup.run();
    throw err;
  }
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await new Promise<never>(() => {});
  return 0;
}

async function redisFor(config: ForkdConfig, cleanup: CleanupStack, log: Logger): Promise<string> {
  if (config.redisUrl) return config.redisUrl;
  const paths = dataPaths(config.dataDir);
  const redis = new PrivateRedis(paths.redisSocket, paths.redisDir);
  await redis.start();
  cleanup.push('private redis', () => redis.stop());
  log.info('private redis-server running', { socket: paths.redisSocket });
  return redis.url;
}
