// Bearer-key authentication for everything under /v1. The key's hash is looked
// up in the database; the resulting Principal rides on the request.
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

export function installAuth(app: FastifyInstance, keys: ApiKeyLookup): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/')) return;
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
