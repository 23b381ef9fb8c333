// The image layers a hostd sends into guests, found wherever this host has
// them (docs/multi-host.md):
//   1. the data directory's own image store: hostd and the API on one data
//      directory (`forkd up`) share it, and nothing is copied (the fast path);
//   2. this host's blob cache, <data dir>/blobs/sha256/<hex>.tar;
//   3. else fetched by digest from the API (`GET /internal/blobs/:digest`, a
//      host credential), its sha256 and size checked while it streams, and
//      renamed into the cache only when both match.
// The layer path the API puts in a job is never read: on another machine it
// names nothing, and on this one it may be another data directory's.
//
// The cache is bounded (FORKD_BLOB_CACHE_MIB). Each layer remembers who took it
// (the VMs and templates it was sent into); past the bound the least recently
// used layers none of whose users still exist on this host are removed.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ForkdError } from '../../contracts/errors.js';
import type { Logger } from '../../contracts/logger.js';
import type { HostLayer } from '../agent/agent-client.js';

export interface BlobCacheOptions {
  /** <data dir>/blobs */
  dir: string;
  /** The data directory's image store layers (images/containers/layers/sha256), read in place when a layer is there. */
  localLayers: string | null;
  limitBytes: number;
  /** GET of one layer by digest; an ok Response's body is the uncompressed tar. */
  fetchBlob: (digest: string) => Promise<Response>;
  /** Ids of the VMs and templates on this host now: a layer one of them took is kept. */
  liveUsers: () => Promise<Set<string>>;
  log: Logger;
}

export interface BlobCacheStats {
  /** Layers read from the data directory's own image store. */
  local: number;
  /** Layers found in the cache. */
  hits: number;
  /** Layers fetched from the API, and their bytes. */
  fetched: number;
  fetchedBytes: number;
  evicted: number;
}

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;
const USERS_FILE = 'users.json';

export class BlobCache {
  readonly stats: BlobCacheStats = { local: 0, hits: 0, fetched: 0, fetchedBytes: 0, evicted: 0 };
  private readonly fetching = new Map<string, Promise<void>>();
  /** hex → ids of the VMs and templates the layer was sent to; kept in users.json. */
  private users: Record<string, string[]> | null = null;
  /** Layers being sent right now: never evicted under a reader. */
  private readonly pinned = new Map<string, number>();

  constructor(private readonly opts: BlobCacheOptions) {}

  private get blobDir(): string {
    return join(this.opts.dir, 'sha256');
  }

  cachedPath(digest: string): string {
    return join(this.blobDir, `${hexOf(digest)}.tar`);
  }

  /**
   * A layer as a readable file on this host, for `user` (a VM or template id).
   * Pass it as HostImage.resolveLayer: only the layers a guest lacks are looked up.
   */
  async layer(layer: { diffId: string; size: number }, user: string): Promise<HostLayer> {
    const hex = hexOf(layer.diffId);
    if (this.opts.localLayers) {
      const local = join(this.opts.localLayers, `${hex}.tar`);
      if (await sizeOf(local) === layer.size) {
        this.stats.local++;
        return { diffId: layer.diffId, size: layer.size, path: local };
      }
    }
    const path = this.cachedPath(layer.diffId);
    this.pin(hex, +1);
    try {
      if (await sizeOf(path) === layer.size) {
        this.stats.hits++;
        const now = new Date();
        await utimes(path, now, now).catch(() => undefined); // the mtime is the LRU clock
      } else {
        let pending = this.fetching.get(hex);
        if (!pending) {
          pending = this.fetch(layer.diffId, layer.size).finally(() => this.fetching.delete(hex));
          this.fetching.set(hex, pending);
        }
        await pending;
      }
      await this.addUser(hex, user);
    } finally {
      this.pin(hex, -1);
    }
    await this.evict().catch((err: unknown) => this.opts.log.warn('blob cache: eviction failed', { error: String(err) }));
    return { diffId: layer.diffId, size: layer.size, path };
  }

  private pin(hex: string, by: number): void {
    const n = (this.pinned.get(hex) ?? 0) + by;
    if (n > 0) this.pinned.set(hex, n);
    else this.pinned.delete(hex);
  }

  private async fetch(diffId: string, size: number): Promise<void> {
    const hex = hexOf(diffId);
    await mkdir(this.blobDir, { recursive: true });
    const res = await this.opts.fetchBlob(diffId).catch((err: unknown) => {
      throw new ForkdError('ERR_HOST_UNAVAILABLE', `cannot fetch image layer ${diffId} from the API: ${(err as Error).message}`, { cause: err });
    });
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => '');
      throw new ForkdError(res.status === 404 ? 'ERR_NOT_FOUND' : 'ERR_INTERNAL', `the API answered ${res.status} for image layer ${diffId}: ${text.slice(0, 200)}`);
    }
    const tmp = join(this.blobDir, `.${hex}.${randomBytes(4).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => { hash.update(chunk); bytes += chunk.length; });
      await pipeline(body, createWriteStream(tmp, { mode: 0o644 }));
      const got = hash.digest('hex');
      if (got !== hex || bytes !== size) {
        throw new ForkdError('ERR_INTERNAL', `image layer ${diffId} fetched from the API does not match: sha256:${got}, ${bytes} bytes (expected ${size})`);
      }
      await rename(tmp, this.cachedPath(diffId));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    this.stats.fetched++;
    this.stats.fetchedBytes += bytes;
    this.opts.log.info('blob cache: fetched an image layer from the API', { layer: diffId, bytes });
  }

  private async loadUsers(): Promise<Record<string, string[]>> {
    this.users ??= await readFile(join(this.opts.dir, USERS_FILE), 'utf8').then((t) => JSON.parse(t) as Record<string, string[]>, () => ({}));
    return this.users;
  }

  private async saveUsers(): Promise<void> {
    const tmp = join(this.opts.dir, `.${USERS_FILE}.${randomBytes(4).toString('hex')}`);
    await writeFile(tmp, JSON.stringify(this.users ?? {}));
    await rename(tmp, join(this.opts.dir, USERS_FILE));
  }

  private async addUser(hex: string, user: string): Promise<void> {
    const users = await this.loadUsers();
    const list = users[hex] ?? [];
    if (list.includes(user)) return;
    users[hex] = [...list, user];
    await this.saveUsers();
  }

  /** Removes least recently used layers no live VM or template took until the cache fits its bound. */
  async evict(): Promise<string[]> {
    const entries: Array<{ hex: string; size: number; mtime: number }> = [];
    for (const name of await readdir(this.blobDir).catch(() => [] as string[])) {
      const m = /^([0-9a-f]{64})\.tar$/.exec(name);
      if (!m) continue;
      const s = await stat(join(this.blobDir, name)).catch(() => null);
      if (s) entries.push({ hex: m[1]!, size: s.size, mtime: s.mtimeMs });
    }
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    if (total <= this.opts.limitBytes) return [];
    const users = await this.loadUsers();
    const live = await this.opts.liveUsers();
    const removed: string[] = [];
    entries.sort((a, b) => a.mtime - b.mtime);
    for (const e of entries) {
      if (total <= this.opts.limitBytes) break;
      if (this.pinned.has(e.hex) || (users[e.hex] ?? []).some((u) => live.has(u))) continue;
      await rm(join(this.blobDir, `${e.hex}.tar`), { force: true });
      delete users[e.hex];
      total -= e.size;
      removed.push(`sha256:${e.hex}`);
    }
    if (removed.length > 0) {
      this.stats.evicted += removed.length;
      await this.saveUsers();
      this.opts.log.info('blob cache: evicted unused image layers', { layers: removed, keptBytes: total, limitBytes: this.opts.limitBytes });
    }
    return removed;
  }
}

function hexOf(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new ForkdError('ERR_VALIDATION', `not a layer digest: ${JSON.stringify(digest)}`, { field: 'diffId' });
  return m[1]!;
}

async function sizeOf(path: string): Promise<number | null> {
  return stat(path).then((s) => s.size, () => null);
}
