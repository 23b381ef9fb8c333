// Imports `docker save` tarballs and OCI image layouts (each plain, gzip or
// zstd, with plain, gzip or zstd layers) into an ImageStore. Everything is
// verified before anything is stored: the config digest, each layer blob's
// digest and size where the archive states them, each layer's diffId (sha256
// of the uncompressed tar) against the config's rootfs.diff_ids, and each
// layer's tar structure. While each layer streams it is also held to the
// ceilings (bytes per image, entries per layer, layers; import/ceilings.ts).
// Work happens in a tmp directory inside the store and lands by rename, so a
// failed import leaves the store as it was.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { detectFileCompression, readDecompressed } from './compression.js';
import type { ImageConfig, ImageStore, StagedImage, StoredImage } from './image-store.js';
import { DEFAULT_IMAGE_MAX_LAYERS, DEFAULT_IMAGE_MAX_UNPACKED_BYTES, DEFAULT_LAYER_MAX_FILES } from '../../services/contracts/config.js';
import { ArchiveFs, invalid, tooLarge, type ArchiveFile } from './import/archive-fs.js';
import { describeLayer, ImageMeter, type LayerMeter } from './import/ceilings.js';
import { DIGEST_RE, isObject, isStringArray, type ImageCandidate } from './import/formats.js';
import { FORMATS } from './import/registry.js';
import { safeRelPath } from './layer-extract.js';
import { readTar } from './tar/reader.js';

export interface ImportOptions {
  /** Largest archive on disk (default 8 GiB, the API's upload limit). */
  maxArchiveBytes?: number;
  /**
   * Most bytes one image's layers unpack to, summed, and most the archive
   * itself unpacks to (default 8 GiB; FORKD_IMAGE_MAX_UNPACKED_BYTES).
   */
  maxUnpackedBytes?: number;
  /** Most tar entries in one layer (default 500,000; FORKD_LAYER_MAX_FILES). */
  maxLayerFiles?: number;
  /** Most layers per image (default 48; FORKD_IMAGE_MAX_LAYERS). */
  maxLayers?: number;
  /** Largest image config (default 8 MiB). */
  maxConfigBytes?: number;
  /** Largest manifest/index JSON (default 4 MiB). */
  maxManifestBytes?: number;
  /** Most entries in the archive (default 100,000). */
  maxEntries?: number;
  /** Tags to add to every imported image, besides the archive's own. */
  tags?: string[];
  /** Architecture to pick from multi-platform OCI indexes (default: this host's). */
  architecture?: string;
  onProgress?: (message: string) => void;
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export interface Uncompressed {
  file: string;
  diffId: string;
  size: number;
}

export function pickConfig(raw: unknown, where: string): ImageConfig {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw invalid(`${where}: config is not an object`);
  const out: ImageConfig = {};
  for (const key of ['Env', 'Cmd', 'Entrypoint'] as const) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (!isStringArray(v)) throw invalid(`${where}: config.${key} is not a string array`);
    out[key] = v;
  }
  for (const key of ['WorkingDir', 'User'] as const) {
    const v = raw[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') throw invalid(`${where}: config.${key} is not a string`);
    out[key] = v;
  }
  if (raw.ExposedPorts !== undefined && raw.ExposedPorts !== null) {
    if (!isObject(raw.ExposedPorts)) throw invalid(`${where}: config.ExposedPorts is not an object`);
    out.ExposedPorts = Object.fromEntries(Object.keys(raw.ExposedPorts).map((k) => [k, {}]));
  }
  return out;
}

/**
 * Reads `source` as a layer tar to its end: structure, checksums, every entry
 * name relative and free of `..`, and every entry counted by the meter.
 */
async function scanLayer(source: AsyncIterable<Buffer> | NodeJS.ReadableStream, meter: LayerMeter, what: string): Promise<void> {
  // 'drain': bytes after the end marker still flow through (and are hashed by) the source.
  for await (const { header } of readTar(source, { atEnd: 'drain' })) {
    meter.addEntry();
    try {
      safeRelPath(header.name);
    } catch (e) {
      throw invalid(`${what}: ${(e as Error).message}`);
    }
  }
}

/**
 * One pass over a layer blob: decompress, hash, write to `outFile` and parse
 * as tar at once, so the meter stops a bomb at its ceiling (bytes out of the
 * decompressor, entries out of the parser) before the rest is read. A plain
 * blob is its own tar (`blob.digest` is then its diffId) and is not copied.
 * Used by archive imports and by registry pulls (images/registry/pull.ts).
 */
export async function stageLayer(blob: { file: string; size: number; digest: string }, outFile: string, meter: LayerMeter): Promise<Uncompressed> {
  const what = describeLayer(meter.at);
  const kind = await detectFileCompression(blob.file);
  if (kind === 'none') {
    // Already on disk at its real size and already hashed by whoever wrote it.
    meter.addBytes(blob.size);
    await scanLayer(createReadStream(blob.file), meter, what);
    return { file: blob.file, diffId: blob.digest, size: blob.size };
  }
  const hash = createHash('sha256');
  const fh = await open(outFile, 'wx', 0o600);
  try {
    const unpacked = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of readDecompressed(blob.file, kind, what)) {
        meter.addBytes(chunk.length);
        hash.update(chunk);
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        yield chunk;
      }
    };
    await scanLayer(unpacked(), meter, what);
  } finally {
    await fh.close();
  }
  return { file: outFile, diffId: `sha256:${hash.digest('hex')}`, size: meter.unpackedBytes };
}

class Importer {
  private readonly decompressed = new Map<string, Promise<Uncompressed>>();
  private n = 0;

  constructor(
    private readonly fs: ArchiveFs,
    private readonly tmp: string,
    private readonly opts: Required<Omit<ImportOptions, 'onProgress' | 'tags' | 'architecture'>> & ImportOptions,
  ) {}

  private progress(msg: string): void {
    this.opts.onProgress?.(msg);
  }

  /**
   * The blob as an uncompressed tar in tmp, with its diffId; computed once per
   * blob. The first image to use a blob meters it; a later one adds its size.
   */
  private uncompress(blob: ArchiveFile, meter: LayerMeter): Promise<Uncompressed> {
    let p = this.decompressed.get(blob.file);
    if (p === undefined) {
      p = this.doUncompress(blob, meter);
      this.decompressed.set(blob.file, p);
    }
    return p;
  }

  private async doUncompress(blob: ArchiveFile, meter: LayerMeter): Promise<Uncompressed> {
    return stageLayer(blob, join(this.tmp, `layer${++this.n}.tar`), meter);
  }

  async verify(c: ImageCandidate): Promise<StagedImage> {
    const cfgFile = this.fs.get(c.configPath, `${c.source}: config`);
    if (cfgFile.size > this.opts.maxConfigBytes) throw tooLarge(`${c.source}: config is ${cfgFile.size} bytes, over the ${this.opts.maxConfigBytes}-byte limit`);
    if (c.configSize !== undefined && c.configSize !== cfgFile.size) {
      throw invalid(`${c.source}: config is ${cfgFile.size} bytes, its descriptor says ${c.configSize}`);
    }
    if (c.configDigest !== undefined && c.configDigest !== cfgFile.digest) {
      throw invalid(`${c.source}: config digest mismatch: expected ${c.configDigest}, got ${cfgFile.digest}`);
    }
    let cfg: unknown;
    try {
      cfg = JSON.parse(await readFile(cfgFile.file, 'utf8'));
    } catch (e) {
      throw invalid(`${c.source}: config ${c.configPath} is not valid JSON (${(e as Error).message})`);
    }
    if (!isObject(cfg)) throw invalid(`${c.source}: config is not a JSON object`);
    const rootfs = cfg.rootfs;
    if (!isObject(rootfs) || rootfs.type !== 'layers' || !isStringArray(rootfs.diff_ids)) {
      throw invalid(`${c.source}: config has no rootfs of type "layers" with diff_ids`);
    }
    const diffIds = rootfs.diff_ids;
    for (const d of diffIds) if (!DIGEST_RE.test(d)) throw invalid(`${c.source}: config diff_id ${JSON.stringify(d)} is not a sha256 digest`);
    if (c.layers.length === 0) throw invalid(`${c.source}: image has no layers`);
    const image = new ImageMeter(this.opts, c.source);
    image.checkLayerCount(c.layers.length);
    if (c.layers.length !== diffIds.length) {
      throw invalid(`${c.source}: manifest lists ${c.layers.length} layers but the config has ${diffIds.length} diff_ids`);
    }
    if (typeof cfg.architecture !== 'string' || typeof cfg.os !== 'string') throw invalid(`${c.source}: config lacks architecture or os`);

    const layers: StagedImage['image']['layers'] = [];
    const layerFiles = new Map<string, string>();
    for (const [i, l] of c.layers.entries()) {
      const at = { source: c.source, index: i + 1, count: c.layers.length, path: l.path };
      const what = describeLayer(at);
      const blob = this.fs.get(l.path, `${c.source}: layer ${i + 1}`);
      if (l.size !== undefined && l.size !== blob.size) throw invalid(`${what} is ${blob.size} bytes, its descriptor says ${l.size}`);
      if (l.digest !== undefined && l.digest !== blob.digest) throw invalid(`${what}: blob digest mismatch: expected ${l.digest}, got ${blob.digest}`);
      const u = await this.uncompress(blob, image.layer(at));
      image.addLayer(at, u.size);
      if (u.diffId !== diffIds[i]) throw invalid(`${what}: diffId mismatch: config says ${diffIds[i]}, the layer hashes to ${u.diffId}`);
      this.progress(`layer ${i + 1}/${c.layers.length} ${u.diffId.slice(0, 19)} ${u.size} bytes verified`);
      layers.push({ diffId: u.diffId, size: u.size });
      layerFiles.set(u.diffId, u.file);
    }
    return {
      image: {
        id: cfgFile.digest,
        repoTags: [...new Set([...c.repoTags, ...(this.opts.tags ?? [])])],
        created: typeof cfg.created === 'string' ? cfg.created : '',
        architecture: cfg.architecture,
        os: cfg.os,
        config: pickConfig(cfg.config, c.source),
        layers,
        size: layers.reduce((s, l) => s + l.size, 0),
      },
      layerFiles,
      configFile: cfgFile.file,
    };
  }
}

/** Imports every image in the archive; all are verified before any is stored. */
export async function importImageArchiveAll(file: string, store: ImageStore, opts: ImportOptions = {}): Promise<StoredImage[]> {
  const o = {
    maxArchiveBytes: 8 * 2 ** 30,
    maxUnpackedBytes: DEFAULT_IMAGE_MAX_UNPACKED_BYTES,
    maxLayerFiles: DEFAULT_LAYER_MAX_FILES,
    maxLayers: DEFAULT_IMAGE_MAX_LAYERS,
    maxConfigBytes: 8 * 2 ** 20,
    maxManifestBytes: 4 * 2 ** 20,
    maxEntries: 100_000,
    ...opts,
  };
  const tmp = await store.makeTempDir();
  try {
    const archiveDir = join(tmp, 'archive');
    await mkdir(archiveDir);
    o.onProgress?.(`reading ${file}`);
    const fs = await ArchiveFs.unpack(file, archiveDir, { maxArchiveBytes: o.maxArchiveBytes, maxUnpackedBytes: o.maxUnpackedBytes, maxEntries: o.maxEntries });
    const format = FORMATS.find((f) => f.detect(fs));
    if (format === undefined) {
      const seen = fs.names.slice(0, 5).join(', ') || 'nothing';
      throw invalid(`not a docker-save or OCI image archive: no manifest.json, nor oci-layout with index.json (found ${seen})`);
    }
    const candidates = await format.images(fs, { maxManifestBytes: o.maxManifestBytes, architecture: o.architecture ?? GOARCH[process.arch] ?? process.arch });
    o.onProgress?.(`${format.name}: ${candidates.length} image(s)`);
    const importer = new Importer(fs, tmp, o);
    const staged: StagedImage[] = [];
    for (const c of candidates) staged.push(await importer.verify(c));
    const stored: StoredImage[] = [];
    for (const s of staged) stored.push(await store.commit(s));
    return stored;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Imports the archive and returns its first image (see importImageArchiveAll). */
export async function importImageArchive(file: string, store: ImageStore, opts: ImportOptions = {}): Promise<StoredImage> {
  const [first] = await importImageArchiveAll(file, store, opts);
  if (first === undefined) throw invalid('image archive holds no image');
  return first;
}
