// Manifests as the distribution spec serves them: Docker v2 schema 2 and OCI
// image manifests, Docker manifest lists and OCI indexes (from which the
// platform's image is picked). Everything is parsed as hostile JSON: sizes
// bounded before parsing, descriptors checked field by field, and a media type
// forkd cannot use refused by name (schema 1, foreign artifacts).

import { ForkdError } from '../../services/contracts/errors.js';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** What forkd asks for, in order of preference. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

const LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
]);
const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture?: string; os?: string; variant?: string };
}

export type Manifest =
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[] }
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] };

function unsupported(message: string, detail: Record<string, unknown>): ForkdError {
  return new ForkdError('ERR_UNSUPPORTED_MEDIA_TYPE', message, { field: 'ref', detail });
}

function junk(where: string, why: string): ForkdError {
  return new ForkdError('ERR_REGISTRY_PROTOCOL', `${where}: ${why}`, { field: 'ref' });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw junk(where, 'descriptor is not an object');
  const { mediaType, digest, size, platform } = v;
  if (typeof mediaType !== 'string') throw junk(where, 'descriptor has no mediaType');
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw junk(where, `descriptor digest ${JSON.stringify(digest)} is not sha256:<hex> (only sha256 is supported)`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw junk(where, `descriptor size ${JSON.stringify(size)} is not a non-negative integer`);
  const d: Descriptor = { mediaType, digest, size };
  if (isObject(platform)) {
    const p: Descriptor['platform'] = {};
    if (typeof platform.architecture === 'string') p.architecture = platform.architecture;
    if (typeof platform.os === 'string') p.os = platform.os;
    if (typeof platform.variant === 'string') p.variant = platform.variant;
    d.platform = p;
  }
  return d;
}

/**
 * Parses a manifest body. `contentType` is the registry's Content-Type; the
 * body's own mediaType wins when present (both are checked against what forkd
 * can use).
 */
export function parseManifest(body: Buffer, contentType: string | undefined, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw junk(where, `manifest is not JSON (${(e as Error).message.slice(0, 80)})`);
  }
  if (!isObject(json)) throw junk(where, 'manifest is not a JSON object');
  const header = contentType?.split(';')[0]?.trim();
  const mediaType = typeof json.mediaType === 'string' ? json.mediaType : header;
  if (json.schemaVersion === 1 || mediaType?.startsWith('application/vnd.docker.distribution.manifest.v1')) {
    throw unsupported(`${where}: Docker schema 1 manifests are not supported (push the image again with a current client)`, { mediaType: mediaType ?? 'schema 1' });
  }
  if (json.schemaVersion !== 2) throw junk(where, `manifest schemaVersion ${JSON.stringify(json.schemaVersion)} is not 2`);
  if (mediaType === MEDIA.dockerList || mediaType === MEDIA.ociIndex || (mediaType === undefined && Array.isArray(json.manifests))) {
    if (!Array.isArray(json.manifests)) throw junk(where, 'index has no manifests array');
    if (json.manifests.length > 1000) throw junk(where, `index lists ${json.manifests.length} manifests (at most 1000)`);
    return { kind: 'index', mediaType: mediaType ?? MEDIA.ociIndex, manifests: json.manifests.map((m, i) => descriptor(m, `${where} manifests[${i}]`)) };
  }
  if (mediaType !== undefined && mediaType !== MEDIA.dockerManifest && mediaType !== MEDIA.ociManifest) {
    throw unsupported(`${where}: media type ${mediaType} is not an image manifest forkd can run (want ${MEDIA.dockerManifest}, ${MEDIA.ociManifest} or an index of them)`, { mediaType });
  }
  const config = descriptor(json.config, `${where} config`);
  if (config.mediaType !== MEDIA.dockerConfig && config.mediaType !== MEDIA.ociConfig) {
    throw unsupported(`${where}: config media type ${config.mediaType} is not an image config (an artifact, not a container image)`, { mediaType: config.mediaType });
  }
  if (!Array.isArray(json.layers)) throw junk(where, 'manifest has no layers array');
  const layers = json.layers.map((l, i) => descriptor(l, `${where} layers[${i}]`));
  for (const [i, l] of layers.entries()) {
    if (FOREIGN_LAYER_TYPES.has(l.mediaType)) throw unsupported(`${where}: layer ${i + 1} is a foreign (non-distributable) layer, which forkd does not fetch`, { mediaType: l.mediaType, layer: i + 1 });
    if (!LAYER_TYPES.has(l.mediaType)) throw unsupported(`${where}: layer ${i + 1} has media type ${l.mediaType} (want a tar layer, plain, gzip or zstd)`, { mediaType: l.mediaType, layer: i + 1 });
  }
  return { kind: 'image', mediaType: mediaType ?? MEDIA.ociManifest, config, layers };
}

/**
 * The index entry for `os/architecture` (GOARCH names). Entries that are not
 * image manifests (attestations, signatures) are skipped. ERR_NOT_FOUND when
 * the index has no such platform, naming the platforms it has.
 */
export function selectPlatform(index: Extract<Manifest, { kind: 'index' }>, where: string, architecture: string, os = 'linux'): Descriptor {
  const images = index.manifests.filter((m) => [MEDIA.dockerManifest, MEDIA.ociManifest].includes(m.mediaType as never) && m.platform?.architecture !== 'unknown');
  const hit = images.find((m) => m.platform?.os === os && m.platform?.architecture === architecture);
  if (hit !== undefined) return hit;
  const have = images.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}`).join(', ') || 'none';
  throw new ForkdError('ERR_MANIFEST_UNKNOWN', `${where}: no ${os}/${architecture} image in the manifest list (it has: ${have})`, { field: 'ref', detail: { platforms: have } });
}
