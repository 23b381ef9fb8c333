// Container images through the API: upload (docker-save and OCI), list, refuse
// bad archives without storing anything, delete.
import { mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { buildRedisImage } from '../images/containers/builders/redis.js';
import { runCli, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
let busybox: string;
let redis: string;

beforeAll(async () => {
  stack = await startStack({ name: 'images', hostd: false });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-images-'));
  busybox = join(work, 'busybox.tar');
  redis = join(work, 'redis.tar');
  await buildBusyboxImage(busybox, {});
  await buildRedisImage(redis, {});
});
afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

function upload(file: string | Buffer, query = '') {
  return stack.api(`/v1/images${query}`, { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: typeof file === 'string' ? readFileSync(file) : file });
}

function storeFiles(): string[] {
  const root = join(stack.dataDir, 'images', 'containers');
  const list = (d: string): string[] => { try { return readdirSync(join(root, d)); } catch { return []; } };
  return [...list('images'), ...list('layers/sha256')].sort();
}

describe('POST /v1/images', () => {
  it('imports a docker-save tarball and lists it by its tag', async () => {
    const res = await upload(busybox);
    expect(res.status).toBe(201);
    const { images } = (await res.json()) as { images: { id: string; tags: string[]; layers: number }[] };
    expect(images[0]!.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(images[0]!.tags).toContain('busybox:latest');
    const list = (await (await stack.api('/v1/images')).json()) as { images: { tags: string[] }[] };
    expect(list.images.some((i) => i.tags.includes('busybox:latest'))).toBe(true);
  });

  it('imports an OCI layout with an extra tag', async () => {
    const res = await upload(redis, '?tag=kv:1');
    expect(res.status).toBe(201);
    const { images } = (await res.json()) as { images: { tags: string[] }[] };
    expect(images[0]!.tags).toEqual(expect.arrayContaining(['kv:1']));
  });

  it('refuses a truncated archive with 422 and stores nothing', async () => {
    const before = storeFiles();
    const whole = readFileSync(busybox);
    const res = await upload(whole.subarray(0, Math.floor(whole.length / 2)));
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error.code).toBe('ERR_IMAGE_INVALID');
    expect(storeFiles()).toEqual(before);
  });

  it('refuses something that is not an image, and an empty body', async () => {
    const junk = await upload(Buffer.from('hello, I am not a tarball'.repeat(100)));
    expect(junk.status).toBe(422);
    const empty = await upload(Buffer.alloc(0));
    expect([400, 422]).toContain(empty.status);
  });

  it('names the field for a bad tag', async () => {
    const res = await upload(busybox, '?tag=' + encodeURIComponent('Not A Tag!'));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.field).toBe('query.tag');
  });
});

describe('DELETE /v1/images/:id', () => {
  it('deletes by tag and answers 404 for an unknown image', async () => {
    const del = await stack.api('/v1/images/kv:1', { method: 'DELETE' });
    expect(del.status).toBe(200);
    const again = await stack.api('/v1/images/kv:1', { method: 'DELETE' });
    expect(again.status).toBe(404);
  });
});

describe('forkd image', () => {
  it('imports, lists and removes through the CLI', async () => {
    const imp = await runCli(['image', 'import', busybox, '-t', 'bb:cli'], stack.env);
    expect(imp.code, imp.stderr).toBe(0);
    const ls = await runCli(['image', 'ls', '--json'], stack.env);
    expect(JSON.parse(ls.stdout).some((i: { tags: string[] }) => i.tags.includes('bb:cli'))).toBe(true);
    const rm = await runCli(['image', 'rm', 'bb:cli'], stack.env);
    expect(rm.code, rm.stderr).toBe(0);
    const missing = await runCli(['image', 'import', join(work, 'nope.tar')], stack.env);
    expect(missing.code).toBe(2);
  });
});
