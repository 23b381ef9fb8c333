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
import { loadConfig } from '../services/contracts/config.js';
import { sha, startBearerGate, startFakeRegistry, type FakeRegistry } from './fake-registry.js';
import { startRegistry, type TestRegistry } from './registry-server.js';

const limits = loadConfig({}).imageLimits;
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
    [anon, basic] = await Promise.all([startRegistry(), startRegistry({ users: { alice: alice.password } })]);
    source = fresh();
    await buildRedisImage(join(dir, 'redis.tar'), {});
    redis = await importImageArchive(join(dir, 'redis.tar'), source);
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
    await buildRedisImage(join(dir, 'redis.tar'), {});
    redis = await importImageArchive(join(dir, 'redis.tar'), source);
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
