// The API process: HTTP, auth and validation in front of the hosts' job queues.
// It never imports native/ or touches libvirt (boundaries.test.ts checks).
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { ForkdConfig } from '../contracts/config.js';
import { ForkdError } from '../contracts/errors.js';

import { eventRoutes } from './events/routes.js';
import { ApiMetrics } from './metrics/api-metrics.js';
import { metricsRoutes } from './metrics/routes.js';
import { DOCS_PREFIX, OPENAPI_PATH, registerOpenApi } from './openapi/openapi.js';
import { decoratePrincipal, requireApiKey } from './auth.js';
import type { PrismaClient } from './db/client.js';
import { installErrorHandler } from './error-handler.js';
import type { HostJobs } from './host-jobs.js';
import { networkRoutes } from './networks/routes.js';
import { podRoutes } from './pods/routes.js';
import type { Operations } from './operations/operations.js';
import { operationRoutes } from './operations/routes.js';
import { blobRoutes, requireHostCredential } from './hosts/blob-routes.js';
import type { Reconciler } from './reconciler/reconciler.js';
import { reconcileRoutes } from './reconciler/routes.js';
import { apiLoggerOptions } from './request-log.js';
import { containerRoutes } from './routes/containers.js';
import { forkRoutes } from './fork/routes.js';
import { liveForkServices } from './fork/services.js';
import { healthRoutes } from './routes/health.js';
import { imageRoutes } from './routes/images.js';
import { registryRoutes } from './routes/registries.js';
import { infoRoutes } from './routes/info.js';
import { templateRoutes } from './routes/templates.js';
import { tenantRoutes } from './routes/tenants.js';
import { volumeRoutes } from './volumes/routes.js';
import { buildServices, type ApiServices } from './services.js';
import { closeConnectionsOnClose } from './http-close.js';
import { DESKTOP_PAGE_PREFIX, desktopBrowserRoutes, NOVNC_PREFIX } from './desktops/browser-routes.js';
import { desktopRoutes } from './desktops/routes.js';
import { desktopServices } from './desktops/services.js';

export interface ApiDeps {
  config: ForkdConfig;
  db: PrismaClient;
  redis: Redis;
  hostJobs: HostJobs;
  /** Long work answered with 202 and finished after the response (operations/); made here when absent. */
  operations?: Operations;
  /** Given: `POST /v1/admin/reconcile` runs it (main.ts also runs it on a timer). */
  reconciler?: Reconciler;
  /** The domain services, when another front end (the Docker API) shares them; made here when absent. */
  services?: ApiServices;
}

/**
 * Routes that answer without a key, on purpose. Every other route must be inside the authenticated /v1 plugin.
 * /healthz: liveness for supervisors. /openapi.json: the API's description, generated from the route
 * schemas; it says what the API accepts, nothing about what runs on it (no ids, no tenants), and tools
 * fetch it before they have a key.
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/healthz', OPENAPI_PATH]);

/**
 * Prefixes under which every route is public: /docs is swagger-ui (an HTML page and its own static
 * files, served from node_modules, no CDN) reading /openapi.json; it holds no data of its own.
 * /desktops: each route checks the desktop's own browser token instead of a key (desktops/browser-routes.ts);
 * /novnc: noVNC's static files for the desktop page.
 */
export const PUBLIC_PREFIXES: readonly string[] = [DOCS_PREFIX, DESKTOP_PAGE_PREFIX, NOVNC_PREFIX];

/** Whether `url` is meant to answer without a key (PUBLIC_ROUTES, or under a PUBLIC_PREFIXES entry). */
export function isPublicRoute(url: string): boolean {
  return PUBLIC_ROUTES.has(url) || PUBLIC_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`));
}

/** One registered route, as the onRoute hook saw it (auth.int.test.ts walks these). */
export interface RegisteredRoute {
  method: string;
  url: string;
  websocket: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route the server registered, collected by an onRoute hook on the root. */
    readonly forkdRoutes: readonly RegisteredRoute[];
  }
}

/** Largest image archive accepted by POST /v1/images. */
export const MAX_IMAGE_UPLOAD_BYTES = 8 * 1024 ** 3;

export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: apiLoggerOptions(deps.config.logLevel === 'debug' ? 'debug' : 'warn'),
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: 'array' } },
    bodyLimit: 32 * 1024 * 1024,
  });
  closeConnectionsOnClose(app);
  installErrorHandler(app);
  decoratePrincipal(app);
  const routes: RegisteredRoute[] = [];
  const authenticated = new Set<string>();
  const key = (method: string, url: string) => `${method} ${url}`;
  app.decorate('forkdRoutes', routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, websocket: Boolean((r as { websocket?: boolean }).websocket) });
  });
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  // Before any route: the document is built from the schemas of the routes registered after it.
  await registerOpenApi(app, PUBLIC_ROUTES);
  const metrics = new ApiMetrics(deps.redis, deps.hostJobs);
  metrics.instrument(app);
  app.addHook('onClose', () => metrics.close());

  const services = deps.services ?? await buildServices(deps, (msg, fields) => app.log.warn(fields ?? {}, msg));
  const { tenancy, operations, images, templates, networks, containers, vms, volumes, interactive, streams, events } = services;

  // Public: liveness only. Anything else that must answer without a key goes here, on purpose.
  await app.register(healthRoutes);
  const desktops = await desktopServices(services, { warn: (msg, fields) => app.log.warn(fields ?? {}, msg) });
  // Public by key, guarded by each desktop's token (checked before the WebSocket upgrade).
  await app.register(desktopBrowserRoutes, { desktops: desktops.desktops, bridges: desktops.bridges });
  desktops.idle.start();
  app.addHook('onClose', () => desktops.idle.stop());

  // Everything under /v1 lives in this one encapsulated plugin, whose onRequest
  // hook authenticates every request to every route in it: a route is protected
  // by where it is registered, not by what its URL looks like (auth.int.test.ts
  // walks every registered route to prove it).
  await app.register(async (v1) => {
    requireApiKey(v1, services.keys);
    v1.addHook('onRoute', (r) => { for (const method of [r.method].flat()) authenticated.add(key(method, r.url)); });
    await v1.register(infoRoutes, { hostJobs: deps.hostJobs });
    await v1.register(tenantRoutes, { db: deps.db });
    await v1.register(registryRoutes, { registries: services.registries, operations, tenancy });
    await v1.register(imageRoutes, { images, tenancy, uploadDir: services.uploadDir, maxUploadBytes: MAX_IMAGE_UPLOAD_BYTES, limits: deps.config.imageLimits });
    await v1.register(containerRoutes, { containers, tenancy, hostJobs: deps.hostJobs, redis: deps.redis, streams, interactive });
    await v1.register(templateRoutes, { templates, vms, tenancy });
    await v1.register(forkRoutes, liveForkServices(services));
    await v1.register(networkRoutes, { networks, tenancy });
    await v1.register(volumeRoutes, { volumes, tenancy });
    await v1.register(podRoutes, { pods: services.pods, tenancy });
    await v1.register(desktopRoutes, { desktops: desktops.desktops, tenancy });
    await v1.register(operationRoutes, { operations, tenancy });
    await v1.register(eventRoutes, { redis: deps.redis, db: deps.db, tenancy, streams });
    // Admin key only (metrics/routes.ts); inside this plugin so the key is checked like everywhere else.
    await v1.register(metricsRoutes, { metrics });
    if (deps.reconciler) await v1.register(reconcileRoutes, { reconciler: deps.reconciler });
  });

  // Hosts only (docs/multi-host.md): image layers by digest, behind a host credential instead of an API key.
  await app.register(async (internal) => {
    requireHostCredential(internal, services.secretKey);
    internal.addHook('onRoute', (r) => { for (const method of [r.method].flat()) authenticated.add(key(method, r.url)); });
    await internal.register(blobRoutes, { db: deps.db, images });
  });

  // A route added outside the plugins above would answer without a key: refuse to start.
  const exposed = routes.filter((r) => !isPublicRoute(r.url) && !authenticated.has(key(r.method, r.url)));
  if (exposed.length > 0) {
    throw new ForkdError('ERR_INTERNAL', `routes registered outside the authenticated /v1 plugin: ${exposed.map((r) => key(r.method, r.url)).join(', ')}`);
  }
  // Before the first request: work a previous API process left running died with it.
  const interrupted = await operations.failInterrupted();
  if (interrupted > 0) app.log.warn({ interrupted }, 'operations left running by the previous API process marked failed (ERR_INTERRUPTED)');
  return app;
}
