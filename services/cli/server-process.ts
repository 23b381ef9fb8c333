// Runs forkd's long-lived parts in this process (`forkd up`, `forkd hostd`):
// the private Redis when REDIS_URL is unset, then the API and/or hostd, and a
// clean stop on SIGINT/SIGTERM (hostd destroys its warm-pool shells and drains
// its jobs first).
//
// The signal handlers are installed before anything starts: hostd's warm pool
// begins refilling while the rest is still starting, and a signal then (a
// service manager stopping a slow start, Ctrl-C) must not kill the process
// with the default action and leave a half-made shell behind. A signal during
// start-up aborts the start between steps and undoes what was started.
import { dataPaths, loadConfig, type ForkdConfig } from '../contracts/config.js';
import { CleanupStack } from '../contracts/cleanup-stack.js';
import { createLogger, errorFields, type Logger } from '../contracts/logger.js';
import type { RunningHostd } from '../hostd/main.js';
import { PrivateRedis } from './private-redis.js';

export interface ServerParts {
  api: boolean;
  hostd: boolean;
}

type ServerState = 'starting' | 'running' | 'stopping';

export async function runServer(parts: ServerParts): Promise<number> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, { svc: parts.api && parts.hostd ? 'forkd' : parts.api ? 'api' : 'hostd' });
  const cleanup = new CleanupStack();
  const abort = new AbortController();
  let state: ServerState = 'starting';
  // Warm-pool shells are stopped first and without a bound (a shell left
  // running is what a stop must avoid). The steps after may wait forever on a
  // Redis that is gone (a process-group or cgroup signal stops the private
  // redis-server too), so from the first of them on the stop gets
  // FORKD_STOP_TIMEOUT_SEC, then the process exits anyway, naming the step.
  let watchdog: NodeJS.Timeout | undefined;
  let current = '';
  const bounded = (what: string, undo: () => Promise<unknown>) => () => {
    current = what;
    watchdog ??= setTimeout(() => {
      log.error(`stopping ${current} did not finish within FORKD_STOP_TIMEOUT_SEC=${config.stopTimeoutSec} s (is Redis gone?): exiting without it; running VMs are kept for the next start`);
      process.exit(1);
    }, config.stopTimeoutSec * 1000);
    return undo();
  };
  const stop = async (): Promise<never> => {
    const failed = await cleanup.run();
    clearTimeout(watchdog);
    for (const f of failed) log.warn(`stopping ${f.what} failed`, errorFields(f.error));
    log.info('stopped');
    process.exit(0);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (abort.signal.aborted) {
      // Exiting now would leave what is being stopped half stopped (a pool shell, a job): say so and keep going.
      log.warn(`${signal} again: still stopping (warm-pool shells and running jobs first); send SIGKILL to abandon them`);
      return;
    }
    log.info(`stopping (${signal})${state === 'starting' ? ' during start-up: undoing what was started' : ''}`);
    abort.abort(new Error(`stopped by ${signal}`));
    if (state === 'running') {
      state = 'stopping';
      void stop();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (parts.api) {
    // A malformed DATABASE_URL must fail before anything is started or created.
    const { parseDatabaseUrl } = await import('../api/db/database-url.js');
    parseDatabaseUrl({ url: config.databaseUrl, dataDir: config.dataDir });
  }
  try {
    const redisUrl = await redisFor(config, cleanup, log);
    let hostd: RunningHostd | undefined;
    if (parts.hostd && !abort.signal.aborted) {
      const { startHostd } = await import('../hostd/main.js');
      hostd = await startHostd(config, redisUrl, log, { signal: abort.signal });
      cleanup.push('hostd', bounded('hostd (jobs in hand, its queue)', () => hostd!.stop()));
    }
    if (parts.api && !abort.signal.aborted) {
      const { startApi } = await import('../api/main.js');
      const api = await startApi(config, redisUrl, log);
      cleanup.push('api', bounded('the API (HTTP, its queues, the database)', () => api.stop()));
      if (!abort.signal.aborted) process.stderr.write(`forkd is up: ${api.url}  (admin key: ${dataPaths(config.dataDir).adminKey})\n`);
    }
    // First of all on a stop, before the API's and the worker's queues: those
    // wait on Redis, which a Ctrl-C in a terminal stops at the same moment
    // (the private redis-server is in forkd's process group).
    if (hostd) cleanup.push('warm-pool shells', () => hostd!.templates.close());
  } catch (err) {
    // A start aborted by a signal is a stop, not a failure.
    if (!abort.signal.aborted) {
      await cleanup.run();
      throw err;
    }
  }
  if (abort.signal.aborted) {
    state = 'stopping';
    return stop();
  }
  state = 'running';
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
