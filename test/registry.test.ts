// The registry client against Debian's docker-registry on loopback (started
// and stopped here), and through the API with the fake hostd. No guest boots.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRedisImage } from '../images/containers/builders/redis.js';
import { importImageArchive } from '../images/containers/image-import.js';
import { ImageStore, type StoredImage } from '../images/containers/image-store.js';
import { pullImage, pushImage, type PullProgress } from '../images/registry/index.js';
import { loadConfig } from '../services/contracts/config.js';
import { startRegistry, type TestRegistry } from './registry-server.js';

const limits = loadConfig({}).imageLimits;
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
});
