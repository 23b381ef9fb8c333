// The API process: HTTP, auth and validation in front of the hosts' job queues.
// It never imports native/ or touches libvirt (boundaries.test.ts checks).
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { join } from 'node:path';
import { ImageStore } from '../../images/containers/image-store.js';
import { dataPaths, type ForkdConfig } from '../contracts/config.js';
import { installAuth } from './auth.js';
import { Containers } from './containers.js';
import type { PrismaClient } from './db/client.js';
import { installErrorHandler } from './error-handler.js';
import type { HostJobs } from './host-jobs.js';
import { Images } from './images.js';
import { KeyStore } from './key-store.js';
import { NetworkAddresses } from './networks/addresses.js';
import { Networks } from './networks/networks.js';
import { networkRoutes } from './networks/routes.js';
import { Operations, runnerId } from './operations/operations.js';
import { operationRoutes } from './operations/routes.js';
import { Placement } from './placement.js';
import { containerRoutes } from './routes/containers.js';
import { healthRoutes } from './routes/health.js';
import { imageRoutes } from './routes/images.js';
import { infoRoutes } from './routes/info.js';
import { templateRoutes } from './routes/templates.js';
import { tenantRoutes } from './routes/tenants.js';
import { Templates } from './templates.js';
import { Tenancy } from './tenancy.js';
import { Vms } from './vms.js';

export interface ApiDeps {
  config: ForkdConfig;
  db: PrismaClient;
  redis: Redis;
  hostJobs: HostJobs;
  /** Long work answered with 202 and finished after the response (operations/); made here when absent. */
  operations?: Operations;
}

/** Largest image archive accepted by POST /v1/images. */
export const MAX_IMAGE_UPLOAD_BYTES = 8 * 1024 ** 3;

export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: deps.config.logLevel === 'debug' ? 'debug' : 'warn' },
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: 'array' } },
    bodyLimit: 32 * 1024 * 1024,
  });
  installErrorHandler(app);
  installAuth(app, new KeyStore(deps.db));
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });

  const tenancy = new Tenancy(deps.db);
  const operations = deps.operations ?? new Operations(deps.db, { warn: (msg, fields) => app.log.warn(fields ?? {}, msg) }, runnerId(deps.config.listen.port));
  const images = new Images(deps.db, new ImageStore(deps.config.dataDir));
  const placement = new Placement(deps.db, deps.hostJobs);
  const templates = new Templates(deps.db, images, placement, deps.hostJobs, deps.config.poolSize, operations);
  const networks = new Networks(deps.db, deps.hostJobs, { warn: (msg, fields) => app.log.warn(fields ?? {}, msg) });
  const addresses = new NetworkAddresses(deps.db, placement, deps.hostJobs);
  const containers = new Containers(deps.db, images, networks, addresses, deps.hostJobs, templates, deps.config.jobTimeoutMs, operations);

  await app.register(healthRoutes);
  await app.register(infoRoutes, { hostJobs: deps.hostJobs });
  await app.register(tenantRoutes, { db: deps.db });
  await app.register(imageRoutes, { images, tenancy, uploadDir: join(dataPaths(deps.config.dataDir).images, 'uploads'), maxUploadBytes: MAX_IMAGE_UPLOAD_BYTES });
  await app.register(containerRoutes, { containers, tenancy, hostJobs: deps.hostJobs, redis: deps.redis });
  await app.register(templateRoutes, { templates, vms: new Vms(deps.db, templates, networks, addresses, deps.hostJobs), tenancy });
  await app.register(networkRoutes, { networks, tenancy });
  await app.register(operationRoutes, { operations, tenancy });
  // Before the first request: work a previous API process left running died with it.
  const interrupted = await operations.failInterrupted();
  if (interrupted > 0) app.log.warn({ interrupted }, 'operations left running by the previous API process marked failed (ERR_INTERRUPTED)');
  return app;
}
