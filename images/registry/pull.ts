// Pulls an image from a registry into the ImageStore. Nothing of an image is
// stored until all of it is verified: the manifest against the digest asked
// for (or the index entry), the config and every blob against their digests
// and sizes, every layer's diffId against the config, every layer's tar and
// the image ceilings as it unpacks (the same stageLayer archive imports use).
//
// Resumable by layer: a layer whose diffId the store already has is not
// fetched at all, and a blob fetched and verified by an attempt that failed
// later (the registry went away on layer 3 of 5) is kept in
// <store>/pulls/sha256/<hex> so the next attempt starts at layer 3. Those
// blobs are removed when a pull of them succeeds, or after a day.

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { ImageLimits } from '../../services/contracts/config.js';
import { ForkdError } from '../../services/contracts/errors.js';
import { pickConfig, stageLayer } from '../containers/image-import.js';
import type { ImageStore, StagedImage, StoredImage } from '../containers/image-store.js';
import { ImageMeter, imageTooLarge, type LayerPosition } from '../containers/import/ceilings.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { parseManifest, selectPlatform, type Descriptor } from './manifest.js';
import { familiarTag, formatReference, parseReference, type Reference } from './reference.js';

export const MAX_CONFIG_BYTES = 8 * 2 ** 20;

export type PullProgress =
  | { kind: 'resolved'; ref: string; manifestDigest: string; layers: number }
  | {
      kind: 'layer';
      /** 1-based, bottom first. */
      layer: number;
      count: number;
      digest: string;
      /** exists: in the store already (not fetched); cached: fetched by an earlier attempt. */
      status: 'exists' | 'cached' | 'downloading' | 'downloaded' | 'verified';
      current?: number;
      total: number;
    }
  | { kind: 'done'; id: string; tag: string | undefined };

export interface PullOptions {
  store: ImageStore;
  limits: ImageLimits;
  registry?: RegistryOptions;
  /** GOARCH name picked from manifest lists (default this host's). */
  architecture?: string;
  onProgress?: (p: PullProgress) => void;
}

export interface PullResult {
  image: StoredImage;
  ref: Reference;
  /** The tag to record (`name:tag`), none for a digest-only reference. */
  tag: string | undefined;
  manifestDigest: string;
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function mismatch(what: string, expected: string, got: string): ForkdError {
  return new ForkdError('ERR_DIGEST_MISMATCH', `${what}: digest mismatch: expected ${expected}, got ${got}; nothing was stored`, { field: 'ref', detail: { expected, got } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function pullCacheDir(store: ImageStore): string {
  return join(store.root, 'pulls', 'sha256');
}

/** Fetches the manifest for `reference`, checking it against `expect` (a digest asked for, or an index entry). */
async function manifestFor(client: RegistryClient, reference: string, where: string, expect?: Descriptor | string) {
  const m = await client.getManifest(reference);
  const digest = typeof expect === 'string' ? expect : expect?.digest;
  if (digest !== undefined && m.digest !== digest) throw mismatch(`${where}: manifest`, digest, m.digest);
  if (typeof expect === 'object' && m.body.length !== expect.size) {
    throw new ForkdError('ERR_DIGEST_MISMATCH', `${where}: manifest is ${m.body.length} bytes, the index says ${expect.size}`, { field: 'ref' });
  }
  return { manifest: parseManifest(m.body, m.contentType, where), digest: m.digest };
}

/**
 * Streams a blob to `file`, hashing as it goes; refuses a byte past the
 * descriptor's size and a digest that does not match. Progress per ~5%.
 */
async function fetchBlob(client: RegistryClient, d: Descriptor, file: string, where: string, onBytes?: (n: number) => void): Promise<void> {
  const res = await client.getBlob(d.digest);
  const hash = createHash('sha256');
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  let n = 0;
  let nextReport = 0;
  try {
    try {
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        n += b.length;
        if (n > d.size) throw new ForkdError('ERR_DIGEST_MISMATCH', `${where}: the registry sent more than the ${d.size} bytes its descriptor says; nothing was stored`, { field: 'ref', detail: { expected: d.digest } });
        hash.update(b);
        if (!out.write(b)) await new Promise<void>((r) => out.once('drain', () => r()));
        if (n >= nextReport) {
          onBytes?.(n);
          nextReport = n + Math.max(1, Math.floor(d.size / 20));
        }
      }
    } catch (e) {
      if (e instanceof ForkdError) throw e;
      throw new ForkdError('ERR_REGISTRY_UNREACHABLE', `${where}: registry ${client.ref.registry} broke off after ${n} of ${d.size} bytes (${(e as Error).message}); pull again to resume from this layer`, { field: 'ref', detail: { registry: client.ref.registry }, cause: e });
    }
    out.end();
    await finished(out);
  } finally {
    res.body.destroy();
    out.destroy();
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (n !== d.size) {
    throw new ForkdError('ERR_DIGEST_MISMATCH', `${where}: the registry sent ${n} bytes, its descriptor says ${d.size}; nothing was stored`, { field: 'ref', detail: { expected: d.digest, got } });
  }
  if (got !== d.digest) throw mismatch(where, d.digest, got);
}

/** Blobs of failed pulls nobody retried, and partial files of crashed ones, go after a day. */
const CACHE_KEEP_MS = 24 * 3600 * 1000;

async function sweepCache(cache: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(cache).catch(() => [] as string[])) {
    const file = join(cache, name);
    const s = await stat(file).catch(() => null);
    if (s !== null && now - s.mtimeMs > CACHE_KEEP_MS) await rm(file, { force: true });
  }
}

export async function pullImage(refText: string, opts: PullOptions): Promise<PullResult> {
  const ref = parseReference(refText);
  const name = formatReference(ref);
  const client = new RegistryClient(ref, opts.registry ?? {});
  const progress = opts.onProgress ?? (() => {});
  const arch = opts.architecture ?? GOARCH[process.arch] ?? process.arch;

  let { manifest, digest: manifestDigest } = await manifestFor(client, ref.digest ?? (ref.tag as string), name, ref.digest);
  if (manifest.kind === 'index') {
    const entry = selectPlatform(manifest, name, arch);
    ({ manifest, digest: manifestDigest } = await manifestFor(client, entry.digest, `${name} (linux/${arch})`, entry));
    if (manifest.kind === 'index') throw new ForkdError('ERR_UNSUPPORTED_MEDIA_TYPE', `${name}: an index inside an index is not supported`, { field: 'ref', detail: { mediaType: manifest.mediaType } });
  }
  const layers = manifest.layers;
  const image = new ImageMeter(opts.limits, name);
  image.checkLayerCount(layers.length);
  if (layers.length === 0) throw new ForkdError('ERR_IMAGE_INVALID', `${name}: image has no layers`, { field: 'ref' });
  progress({ kind: 'resolved', ref: name, manifestDigest, layers: layers.length });

  // The config: small, bounded, verified, parsed as hostile JSON.
  if (manifest.config.size > MAX_CONFIG_BYTES) {
    throw new ForkdError('ERR_REGISTRY_PROTOCOL', `${name}: config is ${manifest.config.size} bytes, over forkd's ${MAX_CONFIG_BYTES}-byte limit`, { field: 'ref' });
  }
  const store = opts.store;
  const tmp = await store.makeTempDir();
  const cache = pullCacheDir(store);
  await mkdir(cache, { recursive: true });
  await sweepCache(cache);
  try {
    const configFile = join(tmp, 'config.json');
    await fetchBlob(client, manifest.config, configFile, `${name}: config`);
    let cfg: unknown;
    try {
      cfg = JSON.parse(await readFile(configFile, 'utf8'));
    } catch (e) {
      throw new ForkdError('ERR_IMAGE_INVALID', `${name}: config is not valid JSON (${(e as Error).message.slice(0, 80)})`, { field: 'ref' });
    }
    if (!isObject(cfg) || !isObject(cfg.rootfs) || cfg.rootfs.type !== 'layers' || !Array.isArray(cfg.rootfs.diff_ids)) {
      throw new ForkdError('ERR_IMAGE_INVALID', `${name}: config has no rootfs of type "layers" with diff_ids`, { field: 'ref' });
    }
    const diffIds = cfg.rootfs.diff_ids as unknown[];
    if (!diffIds.every((d): d is string => typeof d === 'string' && DIGEST.test(d))) throw new ForkdError('ERR_IMAGE_INVALID', `${name}: config diff_ids are not all sha256 digests`, { field: 'ref' });
    if (diffIds.length !== layers.length) throw new ForkdError('ERR_IMAGE_INVALID', `${name}: manifest lists ${layers.length} layers but the config has ${diffIds.length} diff_ids`, { field: 'ref' });
    if (typeof cfg.architecture !== 'string' || typeof cfg.os !== 'string') throw new ForkdError('ERR_IMAGE_INVALID', `${name}: config lacks architecture or os`, { field: 'ref' });
    const config = pickConfig(cfg.config, name);

    const staged: StagedImage['image']['layers'] = [];
    const layerFiles = new Map<string, string>();
    const fetched: string[] = [];
    for (const [i, d] of layers.entries()) {
      const at: LayerPosition = { source: name, index: i + 1, count: layers.length, path: d.digest };
      const ev = { kind: 'layer' as const, layer: i + 1, count: layers.length, digest: d.digest, total: d.size };
      const diffId = diffIds[i] as string;
      const have = await stat(store.layerPath(diffId)).catch(() => null);
      if (have !== null) {
        image.addLayer(at, have.size);
        staged.push({ diffId, size: have.size });
        progress({ ...ev, status: 'exists' });
        continue;
      }
      if (d.size > opts.limits.maxUnpackedBytes) throw imageTooLarge('FORKD_IMAGE_MAX_UNPACKED_BYTES', opts.limits.maxUnpackedBytes, `${name}: layer ${i + 1} is ${d.size} bytes compressed`, at);
      const blob = join(cache, d.digest.slice('sha256:'.length));
      // The pull works on its own hard link of the cached blob: another pull
      // of the same layer may remove the cache entry when it succeeds.
      const mine = join(tmp, `blob${i + 1}`);
      const linked = await stat(blob).then((s) => s.size === d.size, () => false) && (await link(blob, mine).then(() => true, () => false));
      if (linked) {
        progress({ ...ev, status: 'cached' });
      } else {
        const part = `${blob}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
        try {
          await fetchBlob(client, d, part, `${name}: layer ${i + 1}/${layers.length} (${d.digest})`, (current) => progress({ ...ev, status: 'downloading', current }));
          await link(part, mine);
          await rename(part, blob);
        } finally {
          await rm(part, { force: true });
        }
        progress({ ...ev, status: 'downloaded', current: d.size });
      }
      fetched.push(blob);
      const u = await stageLayer({ file: mine, size: d.size, digest: d.digest }, join(tmp, `layer${i + 1}.tar`), image.layer(at));
      if (u.diffId !== diffId) {
        await rm(blob, { force: true }); // a blob that verifies but unpacks to the wrong layer is no use to a retry
        throw new ForkdError('ERR_DIGEST_MISMATCH', `${name}: layer ${i + 1}/${layers.length}: diffId mismatch: config says ${diffId}, the layer unpacks to ${u.diffId}; nothing was stored`, { field: 'ref', detail: { expected: diffId, got: u.diffId } });
      }
      image.addLayer(at, u.size);
      // A plain (uncompressed) blob is its own layer tar: the store takes the link in tmp as it is.
      const file = u.file;
      layerFiles.set(diffId, file);
      staged.push({ diffId, size: u.size });
      progress({ ...ev, status: 'verified', current: d.size });
    }
    const tag = familiarTag(ref);
    const stored = await store.commit({
      image: {
        id: manifest.config.digest,
        repoTags: tag === undefined ? [] : [tag],
        created: typeof cfg.created === 'string' ? cfg.created : '',
        architecture: cfg.architecture,
        os: cfg.os,
        config,
        layers: staged,
        size: staged.reduce((s, l) => s + l.size, 0),
      },
      layerFiles,
      configFile,
    });
    for (const f of fetched) await rm(f, { force: true });
    progress({ kind: 'done', id: stored.id, tag });
    return { image: stored, ref, tag, manifestDigest };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

