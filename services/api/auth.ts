// Bearer-key authentication as structure: server.ts registers every /v1 route
// inside one encapsulated plugin and calls `requireApiKey` on it, so the hook
// runs for every route of that plugin whatever the URL looked like before the
// router decoded it (`/%761/info` is `/v1/info` to the router). Nothing here
// looks at the URL. The key's hash is looked up in the database; the resulting
// Principal rides on the request.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForkdError } from '../contracts/errors.js';
import { bearerToken, hashApiKey, type Principal } from './api-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** What auth needs from the database: find a live key by its hash. */
export interface ApiKeyLookup {
  findActiveKeyByHash(hash: string): Promise<Principal | null>;
}

/** Gives every request a `principal` (null until authenticated); call once, on the root instance. */
export function decoratePrincipal(app: FastifyInstance): void {
  app.decorateRequest('principal', null);
}

/** Every request to a route registered on `scope` (and its children) must carry a live key. */
export function requireApiKey(scope: FastifyInstance, keys: ApiKeyLookup): void {
  scope.addHook('onRequest', async (request) => {
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      throw new ForkdError('ERR_UNAUTHORIZED', 'missing API key: send `Authorization: Bearer <key>` (the admin key is in var/admin.key)');
    }
    const principal = await keys.findActiveKeyByHash(hashApiKey(token));
    if (!principal) throw new ForkdError('ERR_UNAUTHORIZED', 'unknown or revoked API key');
    request.principal = principal;
  });
}

export function requireAdmin(request: FastifyRequest): Principal {
  const p = request.principal;
  if (!p) throw new ForkdError('ERR_UNAUTHORIZED', 'not authenticated');
  if (p.role !== 'admin') throw new ForkdError('ERR_FORBIDDEN', 'this needs an admin key');
  return p;
}
