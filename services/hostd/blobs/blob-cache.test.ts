import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../contracts/logger.js';
import { BlobCache } from './blob-cache.js';

const log = createLogger('error', { svc: 'blob-cache-test' });
const blob = (text: string) => {
  const bytes = Buffer.from(text.repeat(100));
  return { bytes, diffId: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
};

let dir: string;
let served: Map<string, Buffer>;
let fetches: string[];
let live: Set<string>;

function cache(limitBytes = 1 << 20, localLayers: string | null = null): BlobCache {
  return new BlobCache({
    dir: join(dir, 'blobs'), localLayers, limitBytes, log,
    fetchBlob: async (digest) => {
      fetches.push(digest);
      const b = served.get(digest);
      return b ? new Response(b) : new Response('no such layer', { status: 404 });
    },
    liveUsers: async () => live,
  });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forkd-blob-cache-'));
  served = new Map();
  fetches = [];
  live = new Set();
});
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('a layer this host lacks', () => {
  it('is fetched once by digest, checked, and then found in the cache', async () => {
    const a = blob('a');
    served.set(a.diffId, a.bytes);
    const c = cache();
    const first = await c.layer(a, 'vm-1');
    const second = await c.layer(a, 'vm-2');
    expect(first.path).toBe(c.cachedPath(a.diffId));
    expect(second.path).toBe(first.path);
    expect(fetches).toEqual([a.diffId]);
    expect(c.stats).toMatchObject({ fetched: 1, hits: 1, fetchedBytes: a.size });
  });

  it('whose fetched bytes do not hash to its digest is refused and not kept', async () => {
    const a = blob('a');
    served.set(a.diffId, blob('tampered').bytes.subarray(0, a.size));
    const c = cache();
    await expect(c.layer(a, 'vm-1')).rejects.toThrow(/does not match/);
    expect(existsSync(c.cachedPath(a.diffId))).toBe(false);
    // Positive control: the right bytes are accepted.
    served.set(a.diffId, a.bytes);
    await expect(c.layer(a, 'vm-1')).resolves.toMatchObject({ path: c.cachedPath(a.diffId) });
  });

  it('that the API does not have fails with ERR_NOT_FOUND', async () => {
    await expect(cache().layer(blob('x'), 'vm-1')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});

describe('the fast path', () => {
  it('reads a layer in place from the data directory\'s own image store, fetching nothing', async () => {
    const a = blob('a');
    const local = join(dir, 'layers');
    await mkdir(local, { recursive: true });
    await writeFile(join(local, `${a.diffId.slice(7)}.tar`), a.bytes);
    const c = cache(1 << 20, local);
    expect((await c.layer(a, 'vm-1')).path).toBe(join(local, `${a.diffId.slice(7)}.tar`));
    expect(fetches).toEqual([]);
    // Positive control: a layer not in the store is fetched.
    const b = blob('b');
    served.set(b.diffId, b.bytes);
    await c.layer(b, 'vm-1');
    expect(fetches).toEqual([b.diffId]);
  });
});

describe('eviction past the bound', () => {
  it('removes the least recently used layers no live VM or template took, and keeps the used ones', async () => {
    const [a, b, d] = [blob('a'), blob('b'), blob('d')];
    for (const x of [a, b, d]) served.set(x.diffId, x.bytes);
    const c = cache(a.size * 2);
    await c.layer(a, 'vm-a');
    await c.layer(b, 'vm-b');
    // a is older than b; vm-a is gone, vm-b still runs.
    await utimes(c.cachedPath(a.diffId), new Date(1000), new Date(1000));
    live = new Set(['vm-b', 'vm-d']);
    await c.layer(d, 'vm-d');
    expect(existsSync(c.cachedPath(a.diffId))).toBe(false);
    expect(existsSync(c.cachedPath(b.diffId))).toBe(true);
    expect(existsSync(c.cachedPath(d.diffId))).toBe(true);
    expect(c.stats.evicted).toBe(1);
  });

  it('keeps a layer over the bound while its user lives', async () => {
    const [a, b] = [blob('a'), blob('b')];
    for (const x of [a, b]) served.set(x.diffId, x.bytes);
    const c = cache(a.size);
    live = new Set(['vm-a', 'vm-b']);
    await c.layer(a, 'vm-a');
    await c.layer(b, 'vm-b');
    expect(existsSync(c.cachedPath(a.diffId)) && existsSync(c.cachedPath(b.diffId))).toBe(true);
    // Positive control: once vm-a is gone its layer goes at the next eviction.
    live = new Set(['vm-b']);
    await utimes(c.cachedPath(a.diffId), new Date(1000), new Date(1000));
    expect(await c.evict()).toEqual([a.diffId]);
  });
});
