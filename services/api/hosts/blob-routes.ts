// GET /internal/blobs/:digest: an image layer (the uncompressed tar named by
// its diffId) for a hostd whose data directory lacks it (docs/multi-host.md).
// Hosts only: the request must carry a host credential (contracts/host-credential.ts),
// never a tenant's key, and the route lives outside /v1 and the OpenAPI document.
// Only digests some image of some tenant references are served: the store may
// hold a layer an image no longer uses, and nothing names it any more.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { ForkdError } from '../../contracts/errors.js';
import { verifyHostAuthorization } from '../../contracts/host-credential.js';
import type { PrismaClient } from '../db/client.js';
import type { Images } from '../images.js';

export const BLOBS_PREFIX = '/internal/blobs';
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** Every request to `scope` must carry a host credential; a tenant or admin key is refused like no key. */
export function requireHostCredential(scope: FastifyInstance, secretKey: Buffer): void {
  scope.addHook('onRequest', async (request) => {
    const hostId = verifyHostAuthorization(secretKey, request.headers.authorization);
    if (!hostId) throw new ForkdError('ERR_UNAUTHORIZED', 'this route is for forkd hosts: send `Authorization: ForkdHost <hostId>:<credential>` (hostd does)');
  });
}

export async function blobRoutes(app: FastifyInstance, opts: { db: PrismaClient; images: Images }): Promise<void> {
  app.get<{ Params: { digest: string } }>(`${BLOBS_PREFIX}/:digest`, { schema: { hide: true } }, async (request, reply) => {
    const { digest } = request.params;
    if (!DIGEST_RE.test(digest)) throw new ForkdError('ERR_VALIDATION', 'digest must be sha256:<64 hex digits>', { field: 'digest' });
    const path = opts.images.store.layerPath(digest);
    // `layers` is a JSON list of {diffId, size}, not queryable alike on SQLite and PostgreSQL: read and look.
    // A host asks once per layer it lacks (then it is cached), so this is no hot path.
    const rows = await opts.db.image.findMany({ select: { layers: true } });
    const named = rows.some((r) => Array.isArray(r.layers) && r.layers.some((l) => (l as { diffId?: unknown }).diffId === digest));
    const size = named ? await stat(path).then((s) => s.size, () => null) : null;
    if (size === null) throw new ForkdError('ERR_NOT_FOUND', `no image layer ${digest} here`, { field: 'digest' });
    reply.header('content-type', 'application/x-tar').header('content-length', size).header('docker-content-digest', digest);
    return reply.send(createReadStream(path));
  });
}
