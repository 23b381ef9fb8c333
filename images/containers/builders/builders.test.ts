import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { lstat, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFileCompression } from '../compression.js';
import { importImageArchive } from '../image-import.js';
import { ImageStore, type StoredImage } from '../image-store.js';
import { extractLayer } from '../layer-extract.js';
import { buildBusyboxImage, BUSYBOX_HOST_PATH } from './busybox.js';
import { buildRedisImage, REDIS_CMD, REDIS_HOST_PATH, sharedLibraries } from './redis.js';

const haveTools = existsSync(BUSYBOX_HOST_PATH) && existsSync(REDIS_HOST_PATH);
const isRoot = process.getuid?.() === 0;

describe.runIf(haveTools)('image builders', () => {
  let dir: string;
  let store: ImageStore;
  let busybox: StoredImage;
  let redis: StoredImage;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forkd-builders-'));
    store = new ImageStore(join(dir, 'data'));
    await buildBusyboxImage(join(dir, 'busybox.tar'));
    await buildRedisImage(join(dir, 'redis.oci.tar'));
    busybox = await importImageArchive(join(dir, 'busybox.tar'), store);
    redis = await importImageArchive(join(dir, 'redis.oci.tar'), store);
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds deterministically: same inputs, same bytes and digests', async () => {
    const again = await buildBusyboxImage(join(dir, 'busybox2.tar'));
    expect((await readFile(join(dir, 'busybox2.tar'))).equals(await readFile(join(dir, 'busybox.tar')))).toBe(true);
    expect(again.id).toBe(busybox.id);
    const redis2 = await buildRedisImage(join(dir, 'redis2.tar'));
    expect(redis2.id).toBe(redis.id);
  }, 60_000);

  it('busybox:latest is a docker save with one layer; redis:local an OCI layout with gzip layers', async () => {
    expect(busybox.repoTags).toEqual(['busybox:latest']);
    expect(busybox.layers).toHaveLength(1);
    expect(busybox.config).toMatchObject({ Cmd: ['sh'] });
    expect(redis.repoTags).toEqual(['redis:local']);
    expect(redis.config).toMatchObject({ Cmd: REDIS_CMD, ExposedPorts: { '6379/tcp': {} }, WorkingDir: '/data' });
    const listing = execFileSync('tar', ['-tf', join(dir, 'redis.oci.tar')], { encoding: 'utf8' });
    expect(listing).toContain('oci-layout');
    expect(execFileSync('tar', ['-tf', join(dir, 'busybox.tar')], { encoding: 'utf8' })).toContain('manifest.json');
    expect(await detectFileCompression(join(dir, 'redis.oci.tar'))).toBe('none');
  });

  it('redis shares its busybox base layer with busybox:latest', () => {
    expect(redis.layers[0]?.diffId).toBe(busybox.layers[0]?.diffId);
    expect(redis.layers).toHaveLength(2);
  });

  it('the layers extract to a root where bin/sh and usr/bin/redis-server exist', async () => {
    const root = join(dir, 'rootfs');
    for (const l of redis.layers) await extractLayer(createReadStream(l.path), root);
    expect(await readlink(join(root, 'bin/sh'))).toBe('/bin/busybox');
    expect((await lstat(join(root, 'bin/busybox'))).mode & 0o111).toBe(0o111);
    expect((await lstat(join(root, 'usr/bin/redis-server'))).isFile()).toBe(true);
    expect((await lstat(join(root, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
    for (const lib of await sharedLibraries(REDIS_HOST_PATH)) expect(existsSync(join(root, lib)), lib).toBe(true);
    if (isRoot) {
      expect(execFileSync('chroot', [root, '/bin/sh', '-c', 'echo hello from $(basename $0)'], { encoding: 'utf8' })).toBe('hello from sh\n');
      expect(execFileSync('chroot', [root, '/usr/bin/redis-server', '--version'], { encoding: 'utf8' })).toMatch(/^Redis server v=/);
    }
  });
});
