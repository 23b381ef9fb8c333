// Starts the API process: database (migrated), admin key, Redis, HTTP.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { dataPaths, type ForkdConfig } from '../contracts/config.js';
import { ForkdError } from '../contracts/errors.js';
import { errorFields, type Logger } from '../contracts/logger.js';
import { CleanupStack } from '../contracts/cleanup-stack.js';
import { connectRedis } from '../contracts/redis.js';
import { openDatabase } from './db/client.js';
import { HostJobs } from './host-jobs.js';
import { KeyStore } from './key-store.js';
import { Reconciler, startReconcileLoop } from './reconciler/reconciler.js';
import { startHostWatch } from './hosts/host-watch.js';
import { startDockerApi } from './docker/server.js';
import { buildApiServer } from './server.js';
import { buildServices } from './services.js';

export interface RunningApi {
  app: FastifyInstance;
  url: string;
  /** Where the Docker Engine API answers (`unix://…`, `tcp://…`); empty when switched off. */
  dockerUrls: string[];
  stop(): Promise<void>;
}

export async function startApi(config: ForkdConfig, redisUrl: string, log: Logger): Promise<RunningApi> {
  await mkdir(config.dataDir, { recursive: true });
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  const cleanup = new CleanupStack();
  cleanup.push('database', () => db.close());
  try {
    const keys = new KeyStore(db.prisma);
    await keys.ensureAdminKey(dataPaths(config.dataDir).adminKey, log);
    const redis = await connectRedis(redisUrl);
    cleanup.push('redis', () => redis.quit());
    const hostJobs = new HostJobs(redis, config.jobTimeoutMs, config.hostDownMs);
    cleanup.push('host queues', () => hostJobs.close());
    const reconciler = new Reconciler(db.prisma, hostJobs, log.child({ part: 'reconciler' }), { orphanGraceMs: config.orphanGraceMs });
    const apiLog = log.child({ part: 'api' });
    // Built once, shared by forkd's /v1 server and the Docker Engine API.
    const services = await buildServices({ config, db: db.prisma, redis, hostJobs }, (msg, fields) => apiLog.warn(msg, fields));
    const app = await buildApiServer({ config, db: db.prisma, redis, hostJobs, reconciler, services });
    cleanup.push('http', () => app.close());
    try {
      await app.listen({ host: config.listen.host, port: config.listen.port });
    } catch (err) {
      throw new ForkdError('ERR_CONFIG', `cannot listen on ${config.listen.host}:${config.listen.port}: ${(err as Error).message}`, { field: 'FORKD_LISTEN', cause: err });
    }
    const addr = app.server.address();
    const url = typeof addr === 'object' && addr ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
    log.info('API listening', { url, database: db.kind });
    const docker = await startDockerApi(services, { socket: config.dockerSocket, tcp: config.dockerListen, logLevel: config.logLevel });
    cleanup.push('docker api', () => docker.stop());
    if (docker.urls.length > 0) log.info('Docker Engine API listening', { urls: docker.urls.join(' ') });
    // On start and then periodically: the database follows what the hosts really run (docs/lifecycle.md).
    cleanup.push('reconcile loop', startReconcileLoop(reconciler, config.reconcileIntervalMs, log.child({ part: 'reconciler' })));
    // Hosts going down and coming back (docs/multi-host.md): a host back up is reconciled at once.
    const hostLog = log.child({ part: 'hosts' });
    cleanup.push('host watch', startHostWatch({ db: db.prisma, hostJobs, log: hostLog, onBack: () => reconciler.reconcile().catch((err: unknown) => hostLog.warn('reconciling a host back up failed', errorFields(err))) }));
    return { app, url, dockerUrls: docker.urls, stop: async () => { await cleanup.run(); } };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}
