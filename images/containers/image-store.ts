// The host's container image store, at <dataDir>/images/containers/:
//   layers/sha256/<diffId hex>.tar   uncompressed layer tars, shared between images
//   images/<config hex>.json          one record per image (StoredImage, layer paths relative)
//   configs/<config hex>.json         the config blob as it came, so a push keeps the image id
//   tmp/<pid>-<random>/               imports in progress (renamed into place at the end)
//   lock/                             held while records or layers change
// Records and layers only ever appear by rename, so a crash leaves either the
// old state or the new one, plus a tmp directory that `cleanTmp` removes.

import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../services/contracts/config.js';
import { ForkdError } from '../../services/contracts/errors.js';
import { ID_RE, normalizeRef, parseRef, PREFIX_RE } from './refs.js';
import { withDirLock as withStoreLock } from '../dir-lock.js';

export interface ImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, object>;
}

export interface StoredLayer {
  /** `sha256:<hex>` of the uncompressed layer tar. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  /** Absolute path of the stored tar. */
  path: string;
}

export interface StoredImage {
  /** `sha256:<hex>` of the image config blob. */
  id: string;
  repoTags: string[];
  created: string;
  architecture: string;
  os: string;
  config: ImageConfig;
  /** Bottom layer first. */
  layers: StoredLayer[];
  /** Sum of the layers' uncompressed sizes. */
  size: number;
}

/** What an importer hands to `commit`: a verified image whose layers sit in its tmp directory. */
export interface StagedImage {
  image: Omit<StoredImage, 'layers'> & { layers: Array<Omit<StoredLayer, 'path'>> };
  /** diffId → path of the verified uncompressed tar inside a tmp directory of this store. */
  layerFiles: Map<string, string>;
  /** The config blob whose sha256 is the image id, kept so the image can be pushed unchanged. */
  configFile?: string;
}

const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

export class ImageStore {
  readonly root: string;

  constructor(dataDir: string = loadConfig().dataDir) {
    this.root = join(dataDir, 'images', 'containers');
  }

  private get lockDir(): string {
    return join(this.root, 'lock');
  }

  layerPath(diffId: string): string {
    return join(this.root, 'layers', 'sha256', `${hexOf(diffId)}.tar`);
  }

  /** The image's config blob as it came (absent for images imported before configs were kept). */
  configPath(id: string): string {
    return join(this.root, 'configs', `${hexOf(id)}.json`);
  }

  private recordPath(id: string): string {
    return join(this.root, 'images', `${hexOf(id)}.json`);
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, 'layers', 'sha256'), { recursive: true });
    await mkdir(join(this.root, 'images'), { recursive: true });
    await mkdir(join(this.root, 'configs'), { recursive: true });
    await mkdir(join(this.root, 'tmp'), { recursive: true });
  }

  /** A fresh directory for an import; the importer removes it when done. */
  async makeTempDir(): Promise<string> {
    await this.init();
    const dir = join(this.root, 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(dir);
    return dir;
  }

  /** Removes tmp directories left by processes that are gone. */
  async cleanTmp(): Promise<number> {
    let removed = 0;
    const names = await readdir(join(this.root, 'tmp')).catch(() => [] as string[]);
    for (const name of names) {
      const pid = Number(name.split('-')[0]);
      let alive = pid === process.pid;
      if (!alive && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (e) {
          alive = (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (!alive) {
        await rm(join(this.root, 'tmp', name), { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  private withPaths(rec: StoredImage): StoredImage {
    return { ...rec, layers: rec.layers.map((l) => ({ ...l, path: this.layerPath(l.diffId) })) };
  }

  private async readRecords(): Promise<StoredImage[]> {
    let names: string[];
    try {
      names = await readdir(join(this.root, 'images'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: StoredImage[] = [];
    for (const name of names.sort()) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
      try {
        out.push(this.withPaths(JSON.parse(await readFile(join(this.root, 'images', name), 'utf8')) as StoredImage));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile
        throw new ForkdError('ERR_INTERNAL', `image store record ${name} is unreadable: ${(e as Error).message}`, { cause: e });
      }
    }
    return out;
  }

  private async writeRecord(rec: StoredImage): Promise<void> {
    const onDisk = { ...rec, layers: rec.layers.map((l) => ({ ...l, path: `layers/sha256/${hexOf(l.diffId)}.tar` })) };
    const tmp = `${this.recordPath(rec.id)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify(onDisk, null, 2)}\n`);
    await rename(tmp, this.recordPath(rec.id));
  }

  async list(): Promise<StoredImage[]> {
    return this.readRecords();
  }

  private resolveIn(images: StoredImage[], ref: string): StoredImage | undefined {
    const full = ID_RE.exec(ref);
    if (full !== null) return images.find((i) => i.id === `sha256:${full[1]}`);
    const tag = parseRef(ref);
    if (tag !== undefined) {
      const byTag = images.find((i) => i.repoTags.includes(tag));
      if (byTag !== undefined) return byTag;
    }
    const prefix = PREFIX_RE.exec(ref);
    if (prefix !== null) {
      const hits = images.filter((i) => hexOf(i.id).startsWith(prefix[1] as string));
      if (hits.length > 1) {
        throw new ForkdError('ERR_VALIDATION', `image reference ${JSON.stringify(ref)} is ambiguous (${hits.length} images match)`, { field: 'ref' });
      }
      return hits[0];
    }
    if (tag === undefined) throw new ForkdError('ERR_VALIDATION', `not a valid image reference or id: ${JSON.stringify(ref)}`, { field: 'ref' });
    return undefined;
  }

  /** The image for a full id, a unique id prefix of 12+ hex digits, or `name[:tag]`; undefined if none. */
  async find(idOrRef: string): Promise<StoredImage | undefined> {
    return this.resolveIn(await this.readRecords(), idOrRef);
  }

  async get(idOrRef: string): Promise<StoredImage> {
    const img = await this.find(idOrRef);
    if (img === undefined) throw new ForkdError('ERR_NOT_FOUND', `no image ${JSON.stringify(idOrRef)}`);
    return img;
  }

  /**
   * Moves a staged image's layers into place (keeping any already stored) and
   * writes or merges its record. A tag moves from any image that had it.
   * Idempotent: committing the same image twice leaves one record.
   */
  async commit(staged: StagedImage): Promise<StoredImage> {
    await this.init();
    return withStoreLock(this.lockDir, async () => {
      for (const layer of staged.image.layers) {
        const dest = this.layerPath(layer.diffId);
        const have = await stat(dest).catch(() => null);
        if (have !== null && have.size === layer.size) continue;
        const src = staged.layerFiles.get(layer.diffId);
        if (src === undefined) throw new ForkdError('ERR_INTERNAL', `staged image lacks layer ${layer.diffId}`);
        await chmod(src, 0o444);
        await rename(src, dest);
      }
      if (staged.configFile !== undefined) await copyFile(staged.configFile, this.configPath(staged.image.id));
      const images = await this.readRecords();
      const existing = images.find((i) => i.id === staged.image.id);
      const tags = [...new Set([...(existing?.repoTags ?? []), ...staged.image.repoTags.map(normalizeRef)])];
      for (const other of images) {
        if (other.id === staged.image.id) continue;
        const kept = other.repoTags.filter((t) => !tags.includes(t));
        if (kept.length !== other.repoTags.length) await this.writeRecord({ ...other, repoTags: kept });
      }
      const rec = this.withPaths({ ...staged.image, repoTags: tags, layers: staged.image.layers.map((l) => ({ ...l, path: '' })) });
      await this.writeRecord(rec);
      return rec;
    });
  }

  /** Adds `ref` to an image (moving it from any other image). */
  async tag(idOrRef: string, ref: string): Promise<StoredImage> {
    const tag = normalizeRef(ref);
    await this.init();
    return withStoreLock(this.lockDir, async () => {
      const images = await this.readRecords();
      const img = this.resolveIn(images, idOrRef);
      if (img === undefined) throw new ForkdError('ERR_NOT_FOUND', `no image ${JSON.stringify(idOrRef)}`);
      for (const other of images) {
        if (other.id !== img.id && other.repoTags.includes(tag)) await this.writeRecord({ ...other, repoTags: other.repoTags.filter((t) => t !== tag) });
      }
      const rec = { ...img, repoTags: img.repoTags.includes(tag) ? img.repoTags : [...img.repoTags, tag] };
      await this.writeRecord(rec);
      return rec;
    });
  }

  /** Removes one tag; the image stays (untagged if it was the last). */
  async untag(ref: string): Promise<StoredImage> {
    const tag = normalizeRef(ref);
    await this.init();
    return withStoreLock(this.lockDir, async () => {
      const img = (await this.readRecords()).find((i) => i.repoTags.includes(tag));
      if (img === undefined) throw new ForkdError('ERR_NOT_FOUND', `no image tagged ${tag}`);
      const rec = { ...img, repoTags: img.repoTags.filter((t) => t !== tag) };
      await this.writeRecord(rec);
      return rec;
    });
  }

  /** Deletes an image and every layer no other image uses. */
  async delete(idOrRef: string): Promise<{ id: string; removedLayers: string[] }> {
    await this.init();
    return withStoreLock(this.lockDir, async () => {
      const images = await this.readRecords();
      const img = this.resolveIn(images, idOrRef);
      if (img === undefined) throw new ForkdError('ERR_NOT_FOUND', `no image ${JSON.stringify(idOrRef)}`);
      const inUse = new Set(images.filter((i) => i.id !== img.id).flatMap((i) => i.layers.map((l) => l.diffId)));
      await unlink(this.recordPath(img.id));
      await rm(this.configPath(img.id), { force: true });
      const removedLayers: string[] = [];
      for (const diffId of new Set(img.layers.map((l) => l.diffId))) {
        if (inUse.has(diffId)) continue;
        await rm(this.layerPath(diffId), { force: true });
        removedLayers.push(diffId);
      }
      return { id: img.id, removedLayers };
    });
  }
}
