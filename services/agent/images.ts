// The guest's image store, content-addressed:
//   <root>/layers/sha256/<hex>/fs           one extracted layer (an overlay lowerdir)
//   <root>/layers/sha256/<hex>/layer.json   its record (size, files, opaque dirs); written last
//   <root>/images/sha256/<hex>.json         an image: config and its layers' diffIds, bottom first
// (the algorithm is a directory, not a `sha256:` prefix, because overlayfs
// separates lowerdirs with ':'). A layer is verified while it streams in: its
// bytes must hash to its diffId and count exactly its declared size, else it is
// discarded and the call fails with ERR_IMAGE_INVALID.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extractLayer } from '../../images/containers/layer-extract.js';
import { AgentError, type ImageConfig } from '../contracts/agent-protocol/index.js';
import { ForkdError } from '../contracts/errors.js';
import { statePaths } from './config.js';
import type { HandlerTable } from './handler.js';

export interface LayerRecord {
  diffId: string;
  size: number;
  files: number;
  bytes: number;
  opaqueDirs: string[];
  createdAt: number;
}

export interface ImageRecord {
  id: string;
  config: ImageConfig;
  /** diffIds, bottom layer first. */
  layers: string[];
  importedAt: number;
}

export function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

export class ImageStore {
  readonly layersDir: string;
  readonly imagesDir: string;
  private readonly tmp: string;

  constructor(root: string) {
    const p = statePaths(root);
    this.layersDir = join(p.layers, 'sha256');
    this.imagesDir = join(p.images, 'sha256');
    this.tmp = p.tmp;
  }

  async init(): Promise<void> {
    for (const d of [this.layersDir, this.imagesDir, this.tmp]) await mkdir(d, { recursive: true });
    // Half-extracted layers of a crashed agent.
    for (const n of await readdir(this.tmp)) if (n.startsWith('layer-')) await rm(join(this.tmp, n), { recursive: true, force: true });
  }

  layerDir(diffId: string): string {
    return join(this.layersDir, hexOf(diffId));
  }

  /** The overlay lowerdir of a layer. */
  layerFs(diffId: string): string {
    return join(this.layerDir(diffId), 'fs');
  }

  async layer(diffId: string): Promise<LayerRecord | null> {
    try {
      return JSON.parse(await readFile(join(this.layerDir(diffId), 'layer.json'), 'utf8')) as LayerRecord;
    } catch {
      return null;
    }
  }

  /** Extracts one streamed layer, verifying size and digest; `skipped` when it is already here. */
  async putLayer(diffId: string, size: number, input: AsyncIterable<Buffer>, signal: AbortSignal): Promise<{ skipped: boolean; record: LayerRecord }> {
    const have = await this.layer(diffId);
    if (have) return { skipped: true, record: have };
    const work = join(this.tmp, `layer-${hexOf(diffId).slice(0, 16)}-${randomBytes(4).toString('hex')}`);
    const hash = createHash('sha256');
    let received = 0;
    const source = input[Symbol.asyncIterator]();
    const pull = async (): Promise<IteratorResult<Buffer>> => {
      if (signal.aborted) throw new AgentError('ERR_CANCELLED', 'layer upload cancelled');
      const r = await source.next();
      if (!r.done) {
        received += r.value.length;
        if (received > size) throw new AgentError('ERR_IMAGE_INVALID', `layer ${diffId}: more than the declared ${size} bytes`);
        hash.update(r.value);
      }
      return r;
    };
    const tee: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({ next: pull, return: async () => ({ done: true, value: undefined }) }),
    };
    const opaqueDirs: string[] = [];
    try {
      const res = await extractLayer(tee, join(work, 'fs'), { onOpaqueDir: async (_abs, rel) => void opaqueDirs.push(rel) }).catch((e: unknown) => {
        if (e instanceof ForkdError) throw new AgentError('ERR_IMAGE_INVALID', `layer ${diffId}: ${e.message}`);
        throw e;
      });
      // The tar ends before the stream does (end blocks, padding): hash every byte.
      while (!(await pull()).done);
      if (received !== size) throw new AgentError('ERR_IMAGE_INVALID', `layer ${diffId}: received ${received} bytes, declared ${size}`);
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== diffId) throw new AgentError('ERR_IMAGE_INVALID', `layer digest mismatch: declared ${diffId}, received ${got}`, { received: got });
      const record: LayerRecord = { diffId, size, files: res.files, bytes: res.bytes, opaqueDirs: [...new Set([...opaqueDirs, ...res.opaqueDirs])], createdAt: Date.now() };
      await writeFile(join(work, 'layer.json'), `${JSON.stringify(record)}\n`);
      try {
        await rename(work, this.layerDir(diffId));
      } catch (e) {
        // Another upload of the same layer won the race.
        const other = await this.layer(diffId);
        if (other) return { skipped: true, record: other };
        throw e;
      }
      return { skipped: false, record };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async image(id: string): Promise<ImageRecord | null> {
    try {
      return JSON.parse(await readFile(join(this.imagesDir, `${hexOf(id)}.json`), 'utf8')) as ImageRecord;
    } catch {
      return null;
    }
  }

  async missingLayers(diffIds: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    for (const d of diffIds) if (!(await this.layer(d)) && !missing.includes(d)) missing.push(d);
    return missing;
  }

  async recordImage(rec: ImageRecord): Promise<void> {
    const file = join(this.imagesDir, `${hexOf(rec.id)}.json`);
    await writeFile(`${file}.tmp`, `${JSON.stringify(rec)}\n`);
    await rename(`${file}.tmp`, file);
  }

  async listImages(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const n of (await readdir(this.imagesDir)).sort()) {
      if (!/^[0-9a-f]{64}\.json$/.test(n)) continue;
      const rec = await this.image(`sha256:${n.slice(0, 64)}`);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Removes an image record and every layer no other image and no container (`inUse`) references. */
  async removeImage(id: string, inUse: ReadonlySet<string>): Promise<boolean> {
    const rec = await this.image(id);
    if (!rec) return false;
    await rm(join(this.imagesDir, `${hexOf(id)}.json`), { force: true });
    const keep = new Set(inUse);
    for (const other of await this.listImages()) for (const l of other.layers) keep.add(l);
    for (const l of rec.layers) if (!keep.has(l)) await rm(this.layerDir(l), { recursive: true, force: true });
    return true;
  }

  async exists(p: string): Promise<boolean> {
    return stat(p).then(() => true, () => false);
  }
}

export function imageHandlers(store: ImageStore, layersInUse: () => Promise<Set<string>>): HandlerTable {
  return {
    'layer.put': async (p, ctx) => {
      const { skipped, record } = await store.putLayer(p.diffId, p.size, ctx.input, ctx.signal);
      return { diffId: p.diffId, skipped, files: record.files, bytes: record.bytes };
    },
    'image.import': async (p) => {
      const diffIds = p.layers.map((l) => l.diffId);
      const missing = await store.missingLayers(diffIds);
      if (missing.length === 0) await store.recordImage({ id: p.id, config: p.config, layers: diffIds, importedAt: Date.now() });
      return { id: p.id, complete: missing.length === 0, missing };
    },
    'image.list': async () => ({ images: (await store.listImages()).map((i) => ({ id: i.id, layers: i.layers, config: i.config })) }),
    'image.remove': async (p) => ({ removed: await store.removeImage(p.id, await layersInUse()) }),
  };
}
