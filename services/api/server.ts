// The API process: HTTP, auth and validation in front of the hosts' job queues.
// It never imports native/ or touches libvirt (a unit test checks the imports).
import Fastify, { type FastifyInstance } from 'fastify';
import type { ForkdConfig } from '../contracts/config.js';
import { installAuth, type ApiKeyLookup } from './auth.js';
import { installErrorHandler } from './error-handler.js';
import type { HostJobs } from './host-jobs.js';
import { healthRoutes } from './routes/health.js';
import { infoRoutes } from './routes/info.js';

export interface ApiDeps {
  config: ForkdConfig;
  keys: ApiKeyLookup;
  hostJobs: HostJobs;
}

export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: deps.config.logLevel === 'debug' ? 'debug' : 'warn' },
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: 'array' } },
    bodyLimit: 1024 * 1024,
  });
  installErrorHandler(app);
  installAuth(app, deps.keys);
  await app.register(healthRoutes);
  await app.register(infoRoutes, { hostJobs: deps.hostJobs });
  return app;
}
