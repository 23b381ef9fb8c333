// The registry client against Debian's docker-registry on loopback (started
// and stopped here), and through the API with the fake hostd. No guest boots.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { zstdFile } from '../images/containers/compression.js';
import { buildRedisImage } from '../images/containers/builders/redis.js';
import { importImageArchive } from '../images/containers/image-import.js';
import { ImageStore, type StoredImage } from '../images/containers/image-store.js';
import { MAX_MANIFEST_BYTES, MEDIA, pullCacheDir, pullImage, pushImage, type PullOptions, type PullProgress } from '../images/registry/index.js';
import { ERRORS } from '../services/contracts/errors.js';
import { startDockerApi, type RunningDockerApi } from '../services/api/docker/server.js';
import type { HostJobs } from '../services/api/host-jobs.js';
import { buildServices } from '../services/api/services.js';
import { startTestApi, type TestApi } from '../services/api/test-api.js';
import { dockerClient, ensureDockerCli } from './docker-cli.js';
import { loadConfig } from '../services/contracts/config.js';
import { sha, startBearerGate, startFakeRegistry, type FakeRegistry } from './fake-registry.js';
import { startAll } from './support.js';
import { startRegistry, type TestRegistry } from './registry-server.js';

const limits = loadConfig({}).imageLimits;
let archive: Promise<string> | undefined;
/** The redis image (two layers) as an OCI archive, built once for the whole file. */
const redisArchive = (): Promise<string> => (archive ??= (async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'forkd-registry-redis-')), 'redis.tar');
  await buildRedisImage(file, {});
  return file;
})());
afterAll(() => { if (archive) void archive.then((f) => rmSync(join(f, '..'), { recursive: true, force: true })); });
/** A directory's names; none when it was never made. */
const ls = (d: string): string[] => (existsSync(d) ? readdirSync(d) : []);
const alice = { username: 'alice', password: 's3cret-pw' };

describe('registry client', () => {
  let dir: string;
  let anon: TestRegistry;
  let basic: TestRegistry;
  let source: ImageStore;
  let redis: StoredImage;
  const fresh = (): ImageStore => new ImageStore(mkdtempSync(join(dir, 'store-')));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forkd-registry-test-'));
    // Each is kept as soon as it is up, so afterAll stops it even when another one failed to start.
    await startAll([startRegistry().then((r) => (anon = r)), startRegistry({ users: { alice: alice.password } }).then((r) => (basic = r))]);
    source = fresh();
    redis = await importImageArchive(await redisArchive(), source);
  });
  afterAll(async () => {
    await anon?.stop();
    await basic?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pushes an image and pulls it back with the same id, layers and config (anonymous)', async () => {
    const pushed = await pushImage(redis, `${anon.host}/team/redis:1`, { store: source, registry: { insecure: true } });
    expect(pushed.configDigest).toBe(redis.id);
    const events: PullProgress[] = [];
    const store = fresh();
    const pulled = await pullImage(`${anon.host}/team/redis:1`, { store, limits, registry: { insecure: true }, onProgress: (e) => events.push(e) });
    expect(pulled.image.id).toBe(redis.id);
    expect(pulled.tag).toBe(`${anon.host}/team/redis:1`);
    expect(pulled.image.layers.map((l) => l.diffId)).toEqual(redis.layers.map((l) => l.diffId));
    expect(pulled.image.config).toEqual(redis.config);
    expect(events.filter((e) => e.kind === 'layer' && e.status === 'verified')).toHaveLength(2);
  });

  it('basic auth: refused without a login, pushes and pulls with one', async () => {
    const ref = `${basic.host}/team/redis:1`;
    await expect(pushImage(redis, ref, { store: source, registry: { insecure: true } })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
    await expect(pushImage(redis, ref, { store: source, registry: { insecure: true, credentials: { ...alice, password: 'wrong' } } })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
    await pushImage(redis, ref, { store: source, registry: { insecure: true, credentials: alice } });
    await expect(pullImage(ref, { store: fresh(), limits, registry: { insecure: true } })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
    const pulled = await pullImage(ref, { store: fresh(), limits, registry: { insecure: true, credentials: alice } });
    expect(pulled.image.id).toBe(redis.id);
  });

  it('the registry process dies between layers: a clear error, nothing stored; restarted, the pull resumes after the layer it had', async () => {
    const ref = `${anon.host}/team/redis:1`; // pushed by the first test
    const store = fresh();
    try {
      // Refused, or reset when the next request went out on a kept-alive socket to the dead process: unreachable either way.
      await expect(pullImage(ref, { store, limits, registry: { insecure: true }, onProgress: (e) => { if (e.kind === 'layer' && e.layer === 1 && e.status === 'verified') anon.killNow(); } }))
        .rejects.toMatchObject({ code: 'ERR_REGISTRY_UNREACHABLE', message: expect.stringMatching(/refused the connection|closed the connection|broke off/) });
    } finally {
      await anon.restart(); // later tests use it
    }
    expect(await store.list()).toEqual([]);
    expect(ls(join(store.root, 'layers', 'sha256'))).toEqual([]);
    const events: PullProgress[] = [];
    const pulled = await pullImage(ref, { store, limits, registry: { insecure: true }, onProgress: (e) => events.push(e) });
    expect(pulled.image.id).toBe(redis.id);
    expect(events.filter((e) => e.kind === 'layer' && e.layer === 1).map((e) => (e as { status: string }).status)).toEqual(['cached', 'verified']);
  });

  it('HTTPS with a custom CA: refused until the CA is trusted, then pushes and pulls', async () => {
    const tls = await startRegistry({ tls: true });
    try {
      const ref = `${tls.host}/team/tls:1`;
      await expect(pushImage(redis, ref, { store: source, registry: {} })).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNREACHABLE', message: expect.stringMatching(/TLS.*FORKD_REGISTRY_CA_FILE/) });
      await pushImage(redis, ref, { store: source, registry: { ca: tls.ca! } });
      expect((await pullImage(ref, { store: fresh(), limits, registry: { ca: tls.ca! } })).image.id).toBe(redis.id);
    } finally {
      await tls.stop();
    }
  });

  // docker-registry's own token auth needs a signing certificate and a token
  // service; the gate (test/fake-registry.ts) issues the same Bearer
  // challenge and tokens in front of the real anonymous registry instead.
  it('bearer token: gets a token for the repository scope from the challenge realm, pushes and pulls', async () => {
    const gate = await startBearerGate(anon.host, alice);
    try {
      const ref = `${gate.host}/team/bearer:1`;
      await expect(pushImage(redis, ref, { store: source, registry: { insecure: true } })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
      await pushImage(redis, ref, { store: source, registry: { insecure: true, credentials: alice } });
      expect(gate.tokens.at(-1)).toMatch(/repository:team\/bearer:pull,push$/);
      const pulled = await pullImage(ref, { store: fresh(), limits, registry: { insecure: true, credentials: alice } });
      expect(pulled.image.id).toBe(redis.id);
      expect(gate.tokens.at(-1)).toMatch(/repository:team\/bearer:pull$/);
    } finally {
      await gate.close();
    }
  });
});

describe('registry client against a registry that misbehaves (fake, on loopback)', () => {
  let dir: string;
  let fake: FakeRegistry;
  let redis: StoredImage;
  let source: ImageStore;
  let layers: Buffer[];
  let manifest: Buffer;
  let config: Buffer;
  const repo = 'fake/redis';
  const fresh = (): ImageStore => new ImageStore(mkdtempSync(join(dir, 'store-')));
  const pull = (store: ImageStore, ref = `${fake.host}/${repo}:1`, o: Partial<PullOptions> = {}) =>
    pullImage(ref, { store, limits, registry: { insecure: true, timeoutMs: 5_000 }, ...o });
  /** Nothing of a refused pull stays in the store: no record, no layer, no tmp directory. */
  const expectEmpty = async (store: ImageStore) => {
    expect(await store.list()).toEqual([]);
    expect(ls(join(store.root, 'layers', 'sha256'))).toEqual([]);
    expect(ls(join(store.root, 'tmp'))).toEqual([]);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forkd-registry-fake-'));
    source = new ImageStore(join(dir, 'source'));
    redis = await importImageArchive(await redisArchive(), source);
    // Layer 1 gzip, layer 2 zstd: both compressions in one image.
    await zstdFile(redis.layers[1]!.path, join(dir, 'l2.zst'));
    layers = [gzipSync(readFileSync(redis.layers[0]!.path)), readFileSync(join(dir, 'l2.zst'))];
    config = readFileSync(source.configPath(redis.id));
    manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: sha(config), size: config.length },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layers[0]!), size: layers[0]!.length },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha(layers[1]!), size: layers[1]!.length },
      ],
    }));
    fake = await startFakeRegistry(repo);
    for (const b of [config, ...layers]) fake.blobs.set(sha(b), b);
    fake.manifests.set('1', { body: manifest, type: MEDIA.ociManifest });
    fake.manifests.set(sha(manifest), { body: manifest, type: MEDIA.ociManifest });
  });
  afterAll(async () => {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    fake.intercept = undefined;
    fake.hits.length = 0;
  });

  it('pulls gzip and zstd layers, verified to the same image (the positive control)', async () => {
    const store = fresh();
    const r = await pull(store);
    expect(r.image.id).toBe(redis.id);
    expect(r.image.layers.map((l) => l.diffId)).toEqual(redis.layers.map((l) => l.diffId));
    expect(readdirSync(pullCacheDir(store))).toEqual([]);
  });

  it('picks linux/amd64 from a manifest list, and names the platforms when it is missing', async () => {
    const list = (entries: Array<[string, string]>) => Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA.dockerList,
      manifests: entries.map(([arch, digest]) => ({ mediaType: MEDIA.ociManifest, digest, size: manifest.length, platform: { architecture: arch, os: 'linux' } })),
    }));
    fake.manifests.set('multi', { body: list([['arm64', `sha256:${'0'.repeat(64)}`], ['amd64', sha(manifest)]]), type: MEDIA.dockerList });
    fake.manifests.set('armonly', { body: list([['arm64', `sha256:${'0'.repeat(64)}`]]), type: MEDIA.dockerList });
    expect((await pull(fresh(), `${fake.host}/${repo}:multi`, { architecture: 'amd64' })).image.id).toBe(redis.id);
    await expect(pull(fresh(), `${fake.host}/${repo}:armonly`, { architecture: 'amd64' })).rejects.toMatchObject({ code: 'ERR_MANIFEST_UNKNOWN', message: expect.stringMatching(/no linux\/amd64 .*linux\/arm64/) });
  });

  it('a corrupted layer is a digest mismatch and nothing is stored', async () => {
    const bad = Buffer.from(layers[1]!);
    bad.writeUInt8(bad.readUInt8(bad.length >> 1) ^ 0xff, bad.length >> 1);
    fake.blobs.set(sha(layers[1]!), bad);
    const store = fresh();
    try {
      await expect(pull(store)).rejects.toMatchObject({ code: 'ERR_DIGEST_MISMATCH', message: expect.stringMatching(/layer 2\/2.*expected sha256:/) });
    } finally {
      fake.blobs.set(sha(layers[1]!), layers[1]!);
    }
    await expectEmpty(store);
    expect(ERRORS.ERR_DIGEST_MISMATCH.status).toBe(502);
  });

  it('a registry that goes away mid-blob: a clear error, nothing stored, and a retry resumes at that layer', async () => {
    const store = fresh();
    const blob2 = `/v2/${repo}/blobs/${sha(layers[1]!)}`;
    fake.intercept = (req, res) => {
      if (req.url !== blob2) return false;
      res.writeHead(200, { 'content-length': layers[1]!.length });
      res.write(layers[1]!.subarray(0, layers[1]!.length >> 1), () => req.socket.destroy());
      return true;
    };
    await expect(pull(store)).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNREACHABLE', message: expect.stringMatching(/layer 2\/2.*broke off.*pull again/) });
    await expectEmpty(store);
    fake.intercept = undefined;
    fake.hits.length = 0;
    const events: PullProgress[] = [];
    const r = await pull(store, undefined, { onProgress: (e) => events.push(e) });
    expect(r.image.id).toBe(redis.id);
    const statuses = events.filter((e) => e.kind === 'layer').map((e) => `${(e as { layer: number }).layer}:${(e as { status: string }).status}`);
    expect(statuses).toContain('1:cached');
    expect(fake.hits.filter((h) => h.includes(sha(layers[0]!)))).toEqual([]);
    expect(fake.hits.filter((h) => h.includes(sha(layers[1]!)))).toHaveLength(1);
  });

  it('a layer already in the store is not fetched again', async () => {
    const store = fresh();
    await pull(store);
    fake.hits.length = 0;
    const events: PullProgress[] = [];
    await pull(store, `${fake.host}/${repo}@${sha(manifest)}`, { onProgress: (e) => events.push(e) });
    expect(events.filter((e) => e.kind === 'layer').map((e) => (e as { status: string }).status)).toEqual(['exists', 'exists']);
    expect(fake.hits.filter((h) => h.includes('/blobs/') && !h.includes(sha(config)))).toEqual([]);
  });

  it('an unknown tag is a 404 naming the reference', async () => {
    await expect(pull(fresh(), `${fake.host}/${repo}:nope`)).rejects.toMatchObject({ code: 'ERR_MANIFEST_UNKNOWN', message: expect.stringMatching(/fake\/redis:nope/) });
    expect(ERRORS.ERR_MANIFEST_UNKNOWN.status).toBe(404);
  });

  it('refuses schema 1, huge manifests, junk, a digest that does not match and a silent registry, storing nothing', async () => {
    const store = fresh();
    fake.manifests.set('v1', { body: Buffer.from('{"schemaVersion":1,"name":"x","fsLayers":[]}'), type: 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
    await expect(pull(store, `${fake.host}/${repo}:v1`)).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_MEDIA_TYPE', message: expect.stringMatching(/schema 1/) });
    fake.manifests.set('huge', { body: Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20), type: MEDIA.ociManifest });
    await expect(pull(store, `${fake.host}/${repo}:huge`)).rejects.toMatchObject({ code: 'ERR_REGISTRY_PROTOCOL', message: expect.stringMatching(/larger than 4194304 bytes/) });
    fake.manifests.set('junk', { body: Buffer.from('<html>hello</html>'), type: 'text/html' });
    await expect(pull(store, `${fake.host}/${repo}:junk`)).rejects.toMatchObject({ code: 'ERR_REGISTRY_PROTOCOL', message: expect.stringMatching(/not JSON/) });
    await expect(pull(store, `${fake.host}/${repo}@sha256:${'1'.repeat(64)}`)).rejects.toMatchObject({ code: 'ERR_MANIFEST_UNKNOWN' });
    fake.manifests.set(`sha256:${'2'.repeat(64)}`, { body: manifest, type: MEDIA.ociManifest });
    await expect(pull(store, `${fake.host}/${repo}@sha256:${'2'.repeat(64)}`)).rejects.toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
    fake.intercept = (req) => req.url?.includes('/manifests/') === true; // never answers
    await expect(pull(store, undefined, { registry: { insecure: true, timeoutMs: 300 } })).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNREACHABLE', message: expect.stringMatching(/did not answer/) });
    fake.intercept = (_req, res) => (res.writeHead(503).end(), true);
    await expect(pull(store)).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNREACHABLE', message: expect.stringMatching(/answered 503/) });
    await expectEmpty(store);
  });

  it('refuses HTTPS to a plain-HTTP registry without --insecure, naming the way out', async () => {
    await expect(pull(fresh(), undefined, { registry: { timeoutMs: 5_000 } })).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNREACHABLE', message: expect.stringMatching(/--insecure/) });
  });
});

describe('registries through the API (fake hostd)', () => {
  let dir: string;
  let anon: TestRegistry;
  let basic: TestRegistry;
  let t: TestApi;
  let redis: StoredImage;
  let acme: string;
  let other: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forkd-registry-api-'));
    // Each is kept as soon as it is up, so afterAll stops it even when another one failed to start.
    await startAll([
      startRegistry().then((r) => (anon = r)),
      startRegistry({ users: { alice: alice.password } }).then((r) => (basic = r)),
      startTestApi('registry').then((api) => (t = api)),
    ]);
    const source = new ImageStore(join(dir, 'source'));
    redis = await importImageArchive(await redisArchive(), source);
    await pushImage(redis, `${anon.host}/api/redis:1`, { store: source, registry: { insecure: true } });
    [acme, other] = await Promise.all([t.tenant('acme'), t.tenant('other')]);
  });
  afterAll(async () => {
    await t?.stop();
    await anon?.stop();
    await basic?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pulls as an operation, recorded for the pulling tenant only', async () => {
    const res = await t.api('POST', '/v1/images/pull', { ref: `${anon.host}/api/redis:1`, insecure: true }, acme);
    expect(res.status).toBe(202);
    expect(res.json.operation).toMatchObject({ kind: 'image.pull', state: 'running' });
    const done = await t.settle(res, acme);
    expect(done.status).toBe(201);
    expect(done.json.image).toMatchObject({ id: redis.id, tags: [`${anon.host}/api/redis:1`], layers: 2 });
    expect((await t.api('GET', '/v1/images', undefined, acme)).json.images.map((i: { id: string }) => i.id)).toEqual([redis.id]);
    expect((await t.api('GET', '/v1/images', undefined, other)).json.images).toEqual([]);
    const events = await t.app.inject({ method: 'GET', url: `/v1/events?since=0&until=${Date.now()}`, headers: { authorization: `Bearer ${acme}` } });
    const image = events.body.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'image');
    expect(image).toEqual([expect.objectContaining({ action: 'pull', actor: expect.objectContaining({ id: redis.id, name: `${anon.host}/api/redis:1` }) })]);
  });

  it('streams NDJSON progress per layer when asked, ending in a done line', async () => {
    const res = await t.app.inject({
      method: 'POST', url: '/v1/images/pull', payload: { ref: `${anon.host}/api/redis:1`, insecure: true },
      headers: { authorization: `Bearer ${other}`, accept: 'application/x-ndjson' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = res.body.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ kind: 'resolved', layers: 2 });
    expect(lines.filter((l) => l.kind === 'layer').map((l) => `${l.layer}/${l.count}`)).toEqual(expect.arrayContaining(['1/2', '2/2']));
    expect(lines.at(-1)).toMatchObject({ kind: 'done', image: { id: redis.id } });
    const bad = await t.app.inject({
      method: 'POST', url: '/v1/images/pull', payload: { ref: `${anon.host}/api/redis:nope`, insecure: true },
      headers: { authorization: `Bearer ${other}`, accept: 'application/x-ndjson' },
    });
    expect(JSON.parse(bad.body.trim().split('\n').at(-1)!)).toMatchObject({ kind: 'error', error: { code: 'ERR_MANIFEST_UNKNOWN', field: 'ref' } });
  });

  it('tags, logs in and pushes to a basic-auth registry; logins are per tenant, sealed and never shown', async () => {
    const target = `${basic.host}/acme/redis:2`;
    const tagged = await t.api('POST', `/v1/images/${redis.id}/tag`, { ref: target }, acme);
    expect(tagged.status).toBe(201);
    expect(tagged.json.image.tags).toContain(target);
    const refused = await t.create('POST', '/v1/images/push', { ref: target, insecure: true }, acme);
    expect(refused).toMatchObject({ status: 403, json: { error: { code: 'ERR_REGISTRY_AUTH', message: expect.stringMatching(/forkd registry login/) } } });

    const login = await t.api('POST', '/v1/registries/credentials', { registry: basic.host, username: 'alice', password: alice.password }, acme);
    expect(login.status).toBe(201);
    expect(login.json).toEqual({ credential: { registry: basic.host, username: 'alice', createdAt: expect.any(String), updatedAt: expect.any(String) } });
    const listed = await t.api('GET', '/v1/registries/credentials', undefined, acme);
    expect(listed.json.credentials).toHaveLength(1);
    expect(JSON.stringify(listed.json)).not.toContain(alice.password);
    expect((await t.api('GET', '/v1/registries/credentials', undefined, other)).json.credentials).toEqual([]);
    const row = await t.database.prisma.registryCredential.findFirstOrThrow({ where: { registry: basic.host } });
    expect(row.secret).toMatch(/^fks1\./);
    expect(row.secret).not.toContain(alice.password);

    const pushed = await t.create('POST', '/v1/images/push', { ref: target, insecure: true }, acme);
    expect(pushed.status).toBe(201);
    expect(pushed.json.pushed).toMatchObject({ ref: target, digest: expect.stringMatching(/^sha256:/) });
    // Another tenant has no login there.
    expect(await t.create('POST', '/v1/images/pull', { ref: target, insecure: true }, other)).toMatchObject({ status: 403, json: { error: { code: 'ERR_REGISTRY_AUTH' } } });
    expect((await t.create('POST', '/v1/images/pull', { ref: target, insecure: true }, acme)).status).toBe(201);

    expect((await t.api('DELETE', `/v1/registries/credentials/${encodeURIComponent(basic.host)}`, undefined, acme)).json.deleted).toMatchObject({ registry: basic.host });
    expect(await t.create('POST', '/v1/images/pull', { ref: target, insecure: true }, acme)).toMatchObject({ status: 403 });
    expect((await t.api('DELETE', `/v1/registries/credentials/${encodeURIComponent(basic.host)}`, undefined, acme)).status).toBe(404);
  });

  it('answers bad input with a 4xx naming the field, and ends failed pulls as failed operations', async () => {
    for (const ref of ['Upper/Case', 'busybox:-x', `busybox@sha256:${'z'.repeat(64)}`, '']) {
      expect(await t.api('POST', '/v1/images/pull', { ref }, acme)).toMatchObject({ status: 400, json: { error: { code: 'ERR_VALIDATION', field: expect.stringMatching(/ref/) } } });
    }
    expect((await t.api('POST', '/v1/images/pull', { ref: 'busybox', insecure: 'yes' }, acme)).status).toBe(400);
    expect((await t.api('POST', '/v1/images/pull', { ref: 'busybox', extra: 1 }, acme)).status).toBe(400);
    expect((await t.api('POST', '/v1/registries/credentials', { registry: 'not a host', username: 'u', password: 'p' }, acme))).toMatchObject({ status: 400, json: { error: { field: 'registry' } } });
    expect((await t.api('POST', `/v1/images/${redis.id}/tag`, { ref: 'Bad Ref' }, acme))).toMatchObject({ status: 400, json: { error: { field: 'ref' } } });
    expect((await t.api('POST', `/v1/images/${'f'.repeat(64)}/tag`, { ref: 'x:1' }, acme)).status).toBe(404);
    const unknown = await t.create('POST', '/v1/images/pull', { ref: `${anon.host}/api/redis:nope`, insecure: true }, acme);
    expect(unknown).toMatchObject({ status: 404, json: { error: { code: 'ERR_MANIFEST_UNKNOWN', message: expect.stringMatching(/api\/redis:nope/) } } });
    expect(await t.create('POST', '/v1/images/push', { ref: `${anon.host}/never/pulled:1`, insecure: true }, acme)).toMatchObject({ status: 404 });
  });

  it('a registry answering junk, a huge manifest or an unsupported type: the operation ends failed with a 4xx/5xx, no image', async () => {
    const fake = await startFakeRegistry('bad/img');
    try {
      fake.manifests.set('junk', { body: Buffer.from('<html>nope</html>'), type: 'text/html' });
      fake.manifests.set('huge', { body: Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20), type: MEDIA.ociManifest });
      fake.manifests.set('helm', { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 1 }, layers: [] })), type: MEDIA.ociManifest });
      const before = (await t.api('GET', '/v1/images', undefined, other)).json.images;
      expect(await t.create('POST', '/v1/images/pull', { ref: `${fake.host}/bad/img:junk`, insecure: true }, other)).toMatchObject({ status: 502, json: { error: { code: 'ERR_REGISTRY_PROTOCOL' } } });
      expect(await t.create('POST', '/v1/images/pull', { ref: `${fake.host}/bad/img:huge`, insecure: true }, other)).toMatchObject({ status: 502, json: { error: { code: 'ERR_REGISTRY_PROTOCOL', message: expect.stringMatching(/larger than/) } } });
      expect(await t.create('POST', '/v1/images/pull', { ref: `${fake.host}/bad/img:helm`, insecure: true }, other)).toMatchObject({ status: 422, json: { error: { code: 'ERR_UNSUPPORTED_MEDIA_TYPE' } } });
      expect((await t.api('GET', '/v1/images', undefined, other)).json.images).toEqual(before);
    } finally {
      await fake.close();
    }
  });
});

describe('docker pull and docker push (the docker CLI on forkd\'s Docker API)', () => {
  let dir: string;
  let anon: TestRegistry;
  let basic: TestRegistry;
  let t: TestApi;
  let dockerApi: RunningDockerApi;
  let docker: ReturnType<typeof dockerClient>;
  let redis: StoredImage;

  beforeAll(async () => {
    ensureDockerCli();
    dir = mkdtempSync(join(tmpdir(), 'forkd-registry-docker-'));
    // Each is kept as soon as it is up, so afterAll stops it even when another one failed to start.
    await startAll([
      startRegistry().then((r) => (anon = r)),
      startRegistry({ users: { alice: alice.password } }).then((r) => (basic = r)),
      startTestApi('registry-docker').then((api) => (t = api)),
    ]);
    const source = new ImageStore(join(dir, 'source'));
    redis = await importImageArchive(await redisArchive(), source);
    await pushImage(redis, `${anon.host}/docker/redis:1`, { store: source, registry: { insecure: true } });
    const config = loadConfig({ FORKD_DATA_DIR: t.dataDir, FORKD_LOG_LEVEL: 'error' });
    const services = await buildServices({ config, db: t.database.prisma, redis: t.redis, hostJobs: t.hosts as unknown as HostJobs }, () => {});
    const socket = join(dir, 'docker.sock');
    dockerApi = await startDockerApi(services, { socket, tcp: null, logLevel: 'error' });
    docker = dockerClient(socket);
  });
  afterAll(async () => {
    await dockerApi?.stop();
    await t?.stop();
    await anon?.stop();
    await basic?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('docker pull shows Docker\'s progress and the image is there; an unknown tag says No such image', async () => {
    const ref = `${anon.host}/docker/redis:1`;
    const pull = await docker(['pull', ref]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toMatch(/Pull complete/);
    expect(pull.stdout).toMatch(/Status: Downloaded newer image for/);
    const images = await docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    expect(images.stdout).toContain(`${ref} ${redis.id.slice(7, 19)}`);
    const unknown = await docker(['pull', `${anon.host}/docker/redis:nope`]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/No such image: .*redis:nope/);
    // Docker Hub out of reach (as on this machine) or the repository missing: Docker's wording, the reason, and the way in without a registry.
    const run = await docker(['run', '--rm', 'nosuchimage', 'true']);
    expect(run.code).toBe(125);
    expect(run.stderr).toMatch(/No such image: nosuchimage:latest: registry /);
    expect(run.stderr).toMatch(/docker load/);
  });

  it('docker push needs the tenant\'s login for a basic-auth registry, then pushes', async () => {
    const target = `${basic.host}/docker/redis:2`;
    expect((await docker(['tag', `${anon.host}/docker/redis:1`, target])).code).toBe(0);
    const refused = await docker(['push', target]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toMatch(/forkd registry login/);
    expect((await t.api('POST', '/v1/registries/credentials', { registry: basic.host, username: 'alice', password: alice.password })).status).toBe(201);
    const push = await docker(['push', target]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/2: digest: sha256:[0-9a-f]{64} size: \d+/);
    const again = await docker(['push', target]);
    expect(again.stdout).toMatch(/Layer already exists/);
  });
});
