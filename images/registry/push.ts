// Pushes a stored image to a registry as an OCI image manifest. The store
// keeps layers uncompressed (keyed by diffId), so they go up as
// `application/vnd.oci.image.layer.v1.tar` blobs whose digest is the diffId:
// no recompression, and a pull of the result unpacks nothing. The config
// goes up byte for byte as it came (the store keeps it since this change),
// so the pushed image has the same id; an image imported before configs were
// kept gets a config rebuilt from its record, and with it a new id.
// A blob the registry already has (HEAD 200) is not sent again.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ForkdError } from '../../services/contracts/errors.js';
import type { ImageStore, StoredImage } from '../containers/image-store.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { MEDIA } from './manifest.js';
import { formatReference, parseReference, type Reference } from './reference.js';

export type PushProgress =
  | { kind: 'layer'; layer: number; count: number; digest: string; status: 'exists' | 'pushing' | 'pushed'; total: number }
  | { kind: 'done'; ref: string; manifestDigest: string; size: number };

export interface PushOptions {
  store: ImageStore;
  registry?: RegistryOptions;
  onProgress?: (p: PushProgress) => void;
}

export interface PushResult {
  ref: Reference;
  manifestDigest: string;
  /** Bytes of the manifest. */
  size: number;
  /** The config digest the registry now has: the image id, unless the config had to be rebuilt. */
  configDigest: string;
}

async function configBytes(store: ImageStore, image: StoredImage): Promise<Buffer> {
  try {
    return await readFile(store.configPath(image.id));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const rebuilt = {
    architecture: image.architecture,
    os: image.os,
    ...(image.created ? { created: image.created } : {}),
    config: image.config,
    rootfs: { type: 'layers', diff_ids: image.layers.map((l) => l.diffId) },
  };
  return Buffer.from(JSON.stringify(rebuilt));
}

export async function pushImage(image: StoredImage, refText: string, opts: PushOptions): Promise<PushResult> {
  const ref = parseReference(refText);
  if (ref.digest !== undefined) throw new ForkdError('ERR_VALIDATION', `ref ${JSON.stringify(refText)}: push to a tag, not a digest`, { field: 'ref' });
  const client = new RegistryClient(ref, opts.registry ?? {}, true);
  const progress = opts.onProgress ?? (() => {});
  const name = formatReference(ref);
  await client.ping();

  const count = image.layers.length;
  for (const [i, l] of image.layers.entries()) {
    const ev = { kind: 'layer' as const, layer: i + 1, count, digest: l.diffId, total: l.size };
    if (await client.hasBlob(l.diffId)) {
      progress({ ...ev, status: 'exists' });
      continue;
    }
    progress({ ...ev, status: 'pushing' });
    await client.uploadBlob(l.diffId, l.size, () => createReadStream(l.path));
    progress({ ...ev, status: 'pushed' });
  }
  const config = await configBytes(opts.store, image);
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  if (!(await client.hasBlob(configDigest))) await client.uploadBlob(configDigest, config.length, config);

  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: config.length },
      layers: image.layers.map((l) => ({ mediaType: MEDIA.ociLayer, digest: l.diffId, size: l.size })),
    }),
  );
  const manifestDigest = await client.putManifest(ref.tag as string, MEDIA.ociManifest, manifest);
  progress({ kind: 'done', ref: name, manifestDigest, size: manifest.length });
  return { ref, manifestDigest, size: manifest.length, configDigest };
}
