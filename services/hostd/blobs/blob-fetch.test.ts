// The API's GET /internal/blobs/:digest and hostd's cache together, over
// loopback HTTP (here, beside hostd: the API's sources never import hostd):
// a host with its credential gets a layer some image names and keeps it
// checked; anyone else, and a layer no image names, get nothing.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../../images/containers/image-store.js';
import { hostAuthorization } from '../../contracts/host-credential.js';
import { createLogger } from '../../contracts/logger.js';
import { BlobCache } from './blob-cache.js';
import type { PrismaClient } from '../../api/db/client.js';
import { installErrorHandler } from '../../api/error-handler.js';
import type { Images } from '../../api/images.js';
import { blobRoutes, requireHostCredential } from '../../api/hosts/blob-routes.js';

const secretKey = randomBytes(32);
const layer = Buffer.from('a layer tar, as far as this test cares\n'.repeat(50));
const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
const unnamed = Buffer.from('a layer no image names');
const unnamedId = `sha256:${createHash('sha256').update(unnamed).digest('hex')}`;
let dir: string;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forkd-blob-routes-'));
  const store = new ImageStore(join(dir, 'api'));
  await mkdir(join(store.root, 'layers', 'sha256'), { recursive: true });
  await writeFile(store.layerPath(diffId), layer);
  await writeFile(store.layerPath(unnamedId), unnamed);
  const db = { image: { findMany: async () => [{ layers: [{ diffId, size: layer.length }] }] } } as unknown as PrismaClient;
  app = Fastify();
  installErrorHandler(app);
  await app.register(async (internal) => {
    requireHostCredential(internal, secretKey);
    await internal.register(blobRoutes, { db, images: { store } as unknown as Images });
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const get = (digest: string, authorization?: string) => fetch(`${url}/internal/blobs/${digest}`, authorization ? { headers: { authorization } } : {});

describe('GET /internal/blobs/:digest', () => {
  it('refuses requests without a host credential, a forged one, or a Bearer key', async () => {
    expect((await get(diffId)).status).toBe(401);
    expect((await get(diffId, hostAuthorization(randomBytes(32), 'host-b'))).status).toBe(401);
    expect((await get(diffId, `Bearer ${randomBytes(16).toString('hex')}`)).status).toBe(401);
    // Positive control: the host's own credential gets the bytes.
    const ok = await get(diffId, hostAuthorization(secretKey, 'host-b'));
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).equals(layer)).toBe(true);
  });

  it('serves only layers an image names, by a well-formed digest', async () => {
    const auth = hostAuthorization(secretKey, 'host-b');
    expect((await get(unnamedId, auth)).status).toBe(404);
    const bad = await get('sha256:xyz', auth);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('digest');
  });

  it('is where a host\'s blob cache fetches a layer it lacks, checked and kept', async () => {
    const auth = hostAuthorization(secretKey, 'host-b');
    const cache = new BlobCache({
      dir: join(dir, 'host-b', 'blobs'), localLayers: join(dir, 'host-b', 'images', 'containers', 'layers', 'sha256'), limitBytes: 1 << 20,
      fetchBlob: (digest) => fetch(`${url}/internal/blobs/${digest}`, { headers: { authorization: auth } }),
      liveUsers: async () => new Set(), log: createLogger('error', { svc: 'blob-routes-test' }),
    });
    const got = await cache.layer({ diffId, size: layer.length }, 'vm-1');
    expect(got.path).toBe(cache.cachedPath(diffId));
    expect(cache.stats).toMatchObject({ fetched: 1, fetchedBytes: layer.length });
  });
});
