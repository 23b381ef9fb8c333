// What a browser reaches without an API key, each checked by the desktop's
// token instead (query `token`): the page, its status, and the VNC WebSocket.
// The token is checked in preValidation, before the WebSocket upgrade and
// before any byte goes to the guest. noVNC's files are served from
// node_modules (core/ and vendor/ only, .js only).
import { readFile } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { ForkdError } from '../../contracts/errors.js';
import type { Desktops } from './desktops.js';
import { desktopListPage } from './list-page.js';
import { desktopPage, NOVNC_PREFIX } from './page.js';
import { bridge, type BridgeRegistry } from './vnc-bridge.js';
import { novncDir } from './vnc-auth.js';

export const DESKTOP_PAGE_PREFIX = '/desktops';
export { NOVNC_PREFIX };

const tokenQuery = { type: 'object', additionalProperties: false, properties: { token: { type: 'string', maxLength: 256 } } } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
type Req = { Params: { id: string }; Querystring: { token?: string } };

/** Token pages must not be cached or leak the URL to other sites. */
const NO_STORE = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' };

export async function desktopBrowserRoutes(app: FastifyInstance, opts: { desktops: Desktops; bridges: BridgeRegistry }): Promise<void> {
  const { desktops, bridges } = opts;
  const authorize = (r: FastifyRequest) => desktops.authorize((r.params as { id: string }).id, (r.query as { token?: string }).token);
  const novnc = novncDir();

  // The list page carries no data: its script calls /v1/desktops with the key the person types in.
  app.get(DESKTOP_PAGE_PREFIX, { schema: { hide: true } }, async (_request, reply) => {
    return reply.headers(NO_STORE).type('text/html; charset=utf-8').send(desktopListPage());
  });

  app.get<Req>(`${DESKTOP_PAGE_PREFIX}/:id`, { schema: { hide: true, params: idParams, querystring: tokenQuery } }, async (request, reply) => {
    await authorize(request);
    return reply.headers(NO_STORE).type('text/html; charset=utf-8').send(desktopPage(request.params.id));
  });

  app.get<Req>(`${DESKTOP_PAGE_PREFIX}/:id/status`, { schema: { hide: true, params: idParams, querystring: tokenQuery } }, async (request, reply) => {
    const row = await authorize(request);
    return reply.headers(NO_STORE).send({ id: row.id, state: (await desktops.view(row)).state });
  });

  app.get<Req>(`${DESKTOP_PAGE_PREFIX}/:id/vnc`, {
    schema: { hide: true, params: idParams, querystring: tokenQuery },
    websocket: true,
    preValidation: async (request) => { await authorize(request); },
  }, async (socket: WebSocket, request: FastifyRequest) => {
    const id = (request.params as { id: string }).id;
    const done = bridges.add(id, socket);
    try {
      const row = await authorize(request); // again: the desktop may have gone between the check and the upgrade
      await desktops.touch(id);
      await bridge(socket, await desktops.vncTarget(row));
    } catch (err) {
      const fe = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String(err));
      socket.close(4000 + (fe.status >= 400 && fe.status < 1000 ? fe.status : 500), fe.message.slice(0, 120));
    } finally {
      done();
      await desktops.touch(id).catch(() => undefined); // the desktop may be gone: nothing to touch
    }
  });

  app.get<{ Params: { '*': string } }>(`${NOVNC_PREFIX}/*`, { schema: { hide: true } }, async (request, reply) => {
    const rel = normalize(request.params['*']);
    if (!/^(core|vendor)\//.test(rel) || !rel.endsWith('.js') || rel.split(sep).includes('..')) {
      throw new ForkdError('ERR_NOT_FOUND', 'no such file', { field: 'path' });
    }
    const body = await readFile(join(novnc, rel)).catch(() => { throw new ForkdError('ERR_NOT_FOUND', 'no such file', { field: 'path' }); });
    return reply.header('cache-control', 'public, max-age=3600').type('text/javascript; charset=utf-8').send(body);
  });
}
