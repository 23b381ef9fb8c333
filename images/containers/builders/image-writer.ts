// Writes image archives from uncompressed layer tars: `docker save` tarballs
// and OCI image layouts, with plain, gzip or zstd layers and an optional gzip
// or zstd wrapper around the whole archive. Output is deterministic.

import { createHash } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { zstdFile } from '../compression.js';
import type { ImageConfig } from '../image-store.js';
import { writeTar, type TarInput } from '../tar/writer.js';
import { BUILD_CREATED, BUILD_EPOCH } from './layer-tree.js';

export type LayerCompression = 'none' | 'gzip' | 'zstd';

export interface ImageSpec {
  repoTag: string;
  config: ImageConfig;
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  architecture?: string;
  os?: string;
}

export interface ArchiveOptions {
  format: 'docker' | 'oci';
  layerCompression?: LayerCompression;
  /** Compression of the archive file itself. */
  compression?: 'none' | 'gzip' | 'zstd';
}

export interface BuiltArchive {
  file: string;
  /** Image id: `sha256:` of the config. */
  id: string;
  diffIds: string[];
  bytes: number;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (d: string): string => d.slice('sha256:'.length);

async function compressLayer(tar: Buffer, how: LayerCompression, scratch: string): Promise<Buffer> {
  if (how === 'none') return tar;
  if (how === 'gzip') return gzipSync(tar, { level: 6 });
  await writeFile(scratch, tar);
  try {
    await zstdFile(scratch, `${scratch}.zst`);
    return await readFile(`${scratch}.zst`);
  } finally {
    await rm(scratch, { force: true });
    await rm(`${scratch}.zst`, { force: true });
  }
}

export function imageConfigJson(spec: ImageSpec, diffIds: string[]): Buffer {
  const config = {
    architecture: spec.architecture ?? 'amd64',
    config: spec.config,
    created: BUILD_CREATED,
    history: spec.layers.map(() => ({ created: BUILD_CREATED, created_by: 'forkd images/containers/builders' })),
    os: spec.os ?? 'linux',
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  return Buffer.from(JSON.stringify(config));
}

const file = (name: string, body: Buffer, mode = 0o644): TarInput => ({ name, type: 'file', body, mode, mtime: BUILD_EPOCH });
const dir = (name: string): TarInput => ({ name, type: 'directory', mode: 0o755, mtime: BUILD_EPOCH });

/** Writes the archive atomically (tmp file, then rename). */
export async function writeImageArchive(outFile: string, spec: ImageSpec, opts: ArchiveOptions): Promise<BuiltArchive> {
  const diffIds = spec.layers.map(sha256);
  const configJson = imageConfigJson(spec, diffIds);
  const configDigest = sha256(configJson);
  const lc = opts.layerCompression ?? (opts.format === 'oci' ? 'gzip' : 'none');
  const blobs: Buffer[] = [];
  for (const [i, layer] of spec.layers.entries()) blobs.push(await compressLayer(layer, lc, `${outFile}.layer${i}.tmp`));
  const entries: TarInput[] = [];
  if (opts.format === 'docker') {
    for (const [i, blob] of blobs.entries()) {
      entries.push(dir(`${hex(diffIds[i] as string)}/`), file(`${hex(diffIds[i] as string)}/layer.tar`, blob));
    }
    entries.push(file(`${hex(configDigest)}.json`, configJson));
    const manifest = [{ Config: `${hex(configDigest)}.json`, RepoTags: [spec.repoTag], Layers: diffIds.map((d) => `${hex(d)}/layer.tar`) }];
    entries.push(file('manifest.json', Buffer.from(JSON.stringify(manifest))));
    const [name, tag] = spec.repoTag.split(':') as [string, string];
    entries.push(file('repositories', Buffer.from(JSON.stringify({ [name]: { [tag]: hex(diffIds.at(-1) as string) } }))));
  } else {
    const mediaType = lc === 'none' ? 'application/vnd.oci.image.layer.v1.tar' : `application/vnd.oci.image.layer.v1.tar+${lc}`;
    const manifestJson = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configJson.length },
        layers: blobs.map((b) => ({ mediaType, digest: sha256(b), size: b.length })),
      }),
    );
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(manifestJson),
          size: manifestJson.length,
          annotations: { 'io.containerd.image.name': `docker.io/library/${spec.repoTag}`, 'org.opencontainers.image.ref.name': spec.repoTag },
        },
      ],
    };
    entries.push(dir('blobs/'), dir('blobs/sha256/'));
    const seen = new Set<string>();
    for (const b of [configJson, manifestJson, ...blobs]) {
      const d = sha256(b);
      if (seen.has(d)) continue;
      seen.add(d);
      entries.push(file(`blobs/sha256/${hex(d)}`, b));
    }
    entries.push(file('index.json', Buffer.from(JSON.stringify(index))));
    entries.push(file('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }))));
  }
  const parts: Buffer[] = [];
  for await (const chunk of writeTar(entries)) parts.push(chunk);
  let archive = Buffer.concat(parts);
  const tmp = `${outFile}.tmp`;
  try {
    if (opts.compression === 'zstd') {
      await writeFile(`${tmp}.tar`, archive);
      try {
        await zstdFile(`${tmp}.tar`, tmp, 6);
      } finally {
        await rm(`${tmp}.tar`, { force: true });
      }
    } else {
      if (opts.compression === 'gzip') archive = gzipSync(archive, { level: 6 });
      await writeFile(tmp, archive);
    }
    await rename(tmp, outFile);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { file: outFile, id: configDigest, diffIds, bytes: (await stat(outFile)).size };
}
