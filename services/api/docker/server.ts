// The Docker Engine API: its own fastify instance in the API process, on a
// unix socket (acting for the default tenant: whoever may open the 0600
// socket is the operator) and, when FORKD_DOCKER_LISTEN is set, on TCP where
// every request carries a forkd key and acts for that key's tenant. It shares
// forkd's domain services (services.ts) with the /v1 server.
import Fastify, { type FastifyInstance } from 'fastify';
import { chmod, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ForkdError } from '../../contracts/errors.js';
import { decoratePrincipal, requireApiKey } from '../auth.js';
import { apiLoggerOptions } from '../request-log.js';
import type { ApiServices } from '../services.js';
import { eventRoutes } from './events.js';
import { execRoutes } from './exec.js';
import { installDockerErrors } from './errors.js';
import type { DockerContext } from './context.js';
import { containerRoutes } from './routes/containers.js';
import { imageRoutes } from './routes/images.js';
import { networkRoutes } from './routes/networks.js';
import { BAD_VERSION_PATH, systemRoutes } from './routes/system.js';
import { DockerState } from './settings.js';
import { installUnsupported } from './unsupported.js';
import { routeUpgrades } from './upgrade.js';
import { parseVersionedPath } from './versions.js';
import { volumeRoutes } from './volumes.js';
import { resumeAutoRemove } from './waiting.js';
import { closeConnectionsOnClose } from '../http-close.js';

/** `socket`: the unix socket, acting for the default tenant. `key`: TCP, a forkd key on every request. */
export type DockerAuth = 'socket' | 'key';

/** Who a request on the unix socket is: the operator, for the default tenant (as the admin key acts). */
const SOCKET_PRINCIPAL = { keyId: 'docker-socket', role: 'admin' as const, tenantId: null };

export async function buildDockerServer(ctx: DockerContext, auth: DockerAuth, logLevel: string): Promise<FastifyInstance> {
  const app = Fastify({
    logger: apiLoggerOptions(logLevel === 'debug' ? 'debug' : 'warn'),
    // `/v1.44/containers/json` and `/containers/json` are the same route; a version out of range goes to the route that says so.
    rewriteUrl: (req) => {
      const parsed = parseVersionedPath(req.url ?? '/');
      return parsed.ok ? parsed.path : `${BAD_VERSION_PATH}?message=${encodeURIComponent(parsed.message)}`;
    },
    bodyLimit: 4 * 1024 * 1024,
    // Attach, logs -f and wait stay open as long as the container runs.
    requestTimeout: 0,
  });
  // A client may half-close a stream it only reads (the CLI does on upgraded ones, which upgrade.ts takes
  // off the HTTP parser; a plain 200 attach can too): Node's HTTP server would end the socket then,
  // cutting the output. Half-open, the answer goes on.
  (app.server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
  closeConnectionsOnClose(app);
  // Docker clients compare Content-Type with application/json exactly.
  app.addHook('onSend', async (_request, reply, payload) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('application/json')) reply.header('content-type', 'application/json');
    return payload;
  });
  routeUpgrades(app);
  installDockerErrors(app);
  installUnsupported(app);
  decoratePrincipal(app);
  if (auth === 'key') requireApiKey(app, ctx.services.keys);
  else app.addHook('onRequest', async (request) => { request.principal = SOCKET_PRINCIPAL; });

  // Clients send JSON with and without a body, and tar archives to /images/load.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ForkdError('ERR_VALIDATION', `invalid JSON: ${(err as Error).message}`, { field: 'body' }), undefined);
    }
  });
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  await app.register(async (a) => systemRoutes(a, ctx));
  await app.register(async (a) => containerRoutes(a, ctx));
  await app.register(async (a) => execRoutes(a, ctx));
  await app.register(async (a) => imageRoutes(a, ctx));
  await app.register(async (a) => networkRoutes(a, ctx));
  await app.register(async (a) => eventRoutes(a, ctx));
  await app.register(async (a) => volumeRoutes(a, ctx));
  return app;
}

/**
 * Binds the socket in a directory only this user can enter, makes it 0600,
 * then renames it into place: it is never reachable with the umask's mode.
 * A socket left by a process that died would make listen fail; nothing else owns the path.
 */
async function listenPrivately(app: FastifyInstance, path: string): Promise<void> {
  const dir = await mkdtemp(join(dirname(path), '.docker-sock-'));
  try {
    const staged = join(dir, 'docker.sock');
    await app.listen({ path: staged });
    await chmod(staged, 0o600);
    await rm(path, { force: true });
    await rename(staged, path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RunningDockerApi {
  /** `unix:///…/docker.sock` and/or `tcp://host:port`. */
  urls: string[];
  stop(): Promise<void>;
}

export interface DockerListen {
  socket: string | null;
  tcp: { host: string; port: number } | null;
  logLevel: string;
}

/** Serves the Docker API where configured; one DockerState for both, so a container made on one is known on the other. */
export async function startDockerApi(services: ApiServices, listen: DockerListen): Promise<RunningDockerApi> {
  const ctx: DockerContext = { services, state: new DockerState(services.db) };

  const apps: FastifyInstance[] = [];
  const urls: string[] = [];
  const stop = async () => {
    await Promise.allSettled(apps.map((a) => a.close()));
    // libuv unlinks the path it bound (the staging one), not the renamed socket.
    if (listen.socket) await rm(listen.socket, { force: true });
  };
  try {
    if (listen.socket) {
      const app = await buildDockerServer(ctx, 'socket', listen.logLevel);
      apps.push(app);
      await listenPrivately(app, listen.socket);
      urls.push(`unix://${listen.socket}`);
    }
    if (listen.tcp) {
      const app = await buildDockerServer(ctx, 'key', listen.logLevel);
      apps.push(app);
      try {
        await app.listen({ host: listen.tcp.host, port: listen.tcp.port });
      } catch (err) {
        throw new ForkdError('ERR_CONFIG', `cannot listen on ${listen.tcp.host}:${listen.tcp.port}: ${(err as Error).message}`, { field: 'FORKD_DOCKER_LISTEN', cause: err });
      }
      const addr = app.server.address();
      urls.push(typeof addr === 'object' && addr ? `tcp://${addr.address}:${addr.port}` : String(addr));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  // --rm outlives a restart: the watch over containers started before it resumes (best effort; a failure is logged).
  const warn = (msg: string, fields: object) => apps[0]?.log.warn(fields, msg);
  void resumeAutoRemove(ctx, warn).catch((err: unknown) => warn('could not resume --rm for containers started before this process', { err: String(err) }));
  return { urls, stop };
}
