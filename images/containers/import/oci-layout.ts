// OCI image layouts in a tar: `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
// index.json may point at image manifests or at nested indexes (multi-platform);
// every manifest and index blob read is checked against its descriptor.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseRef } from '../refs.js';
import { invalid, tooLarge, type ArchiveFs } from './archive-fs.js';
import { DIGEST_RE, isObject, type FormatOptions, type ImageCandidate, type ImageFormat } from './formats.js';

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v) || typeof v.digest !== 'string' || typeof v.size !== 'number' || typeof v.mediaType !== 'string') {
    throw invalid(`OCI layout: ${where} is not a descriptor (mediaType, digest, size)`);
  }
  if (!DIGEST_RE.test(v.digest)) throw invalid(`OCI layout: ${where} has an unsupported digest ${JSON.stringify(v.digest)} (sha256 only)`);
  if (!Number.isSafeInteger(v.size) || v.size < 0) throw invalid(`OCI layout: ${where} has a bad size`);
  const annotations = isObject(v.annotations) ? (v.annotations as Record<string, string>) : {};
  const platform = isObject(v.platform) ? (v.platform as Descriptor['platform']) : undefined;
  return { mediaType: v.mediaType, digest: v.digest, size: v.size, annotations, ...(platform === undefined ? {} : { platform }) };
}

export function blobPath(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

/** Reads a JSON blob and checks it against its descriptor. */
async function readBlobJson(fs: ArchiveFs, d: Descriptor, what: string, limit: number): Promise<Record<string, unknown>> {
  const f = fs.get(blobPath(d.digest), what);
  if (f.size > limit) throw tooLarge(`OCI layout: ${what} ${d.digest} is ${f.size} bytes, over the ${limit}-byte limit`);
  if (f.size !== d.size) throw invalid(`OCI layout: ${what} ${d.digest} is ${f.size} bytes, its descriptor says ${d.size}`);
  const data = await readFile(f.file);
  const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  if (actual !== d.digest) throw invalid(`OCI layout: ${what} digest mismatch: expected ${d.digest}, got ${actual}`);
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw invalid(`OCI layout: ${what} ${d.digest} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw invalid(`OCI layout: ${what} ${d.digest} is not a JSON object`);
  return json;
}

function tagsOf(annotations: Record<string, string>): string[] {
  for (const key of ['io.containerd.image.name', 'org.opencontainers.image.ref.name']) {
    const v = annotations[key];
    // A bare ref.name ("latest") names a tag without a repository: not enough for a tag here.
    if (typeof v === 'string' && /[:/]/.test(v) && parseRef(v) !== undefined) return [v];
  }
  return [];
}

function manifestsOf(index: Record<string, unknown>, where: string): Descriptor[] {
  if (!Array.isArray(index.manifests)) throw invalid(`OCI layout: ${where} has no manifests array`);
  return index.manifests.map((m, i) => descriptor(m, `${where}.manifests[${i}]`));
}

export const ociLayout: ImageFormat = {
  name: 'oci-layout',
  detect: (fs) => fs.has('oci-layout') && fs.has('index.json'),
  async images(fs: ArchiveFs, opts: FormatOptions): Promise<ImageCandidate[]> {
    const layout = await fs.readJson('oci-layout', 'oci-layout file', 4096);
    if (!isObject(layout) || typeof layout.imageLayoutVersion !== 'string') throw invalid('OCI layout: oci-layout has no imageLayoutVersion');
    const index = await fs.readJson('index.json', 'index', opts.maxManifestBytes);
    if (!isObject(index)) throw invalid('OCI layout: index.json is not a JSON object');
    const out: ImageCandidate[] = [];
    const visit = async (d: Descriptor, tags: string[], where: string, depth: number): Promise<void> => {
      if (depth > 4) throw invalid(`OCI layout: indexes nested too deep at ${where}`);
      if (INDEX_TYPES.has(d.mediaType)) {
        const nested = await readBlobJson(fs, d, 'index', opts.maxManifestBytes);
        const wanted = manifestsOf(nested, where).filter(
          (m) => m.platform === undefined || (m.platform.os === 'linux' && m.platform.architecture === opts.architecture),
        );
        for (const [i, m] of wanted.entries()) await visit(m, tags, `${where} → ${d.digest.slice(0, 19)}[${i}]`, depth + 1);
        return;
      }
      if (!MANIFEST_TYPES.has(d.mediaType)) return; // attestations, signatures, other artifacts
      const manifest = await readBlobJson(fs, d, 'manifest', opts.maxManifestBytes);
      const config = descriptor(manifest.config, `manifest ${d.digest}.config`);
      if (!Array.isArray(manifest.layers)) throw invalid(`OCI layout: manifest ${d.digest} has no layers array`);
      const layers = manifest.layers.map((l, i) => descriptor(l, `manifest ${d.digest}.layers[${i}]`));
      for (const l of layers) {
        if (!/tar/.test(l.mediaType)) throw invalid(`OCI layout: layer ${l.digest} has media type ${l.mediaType}, not a tar layer`);
      }
      out.push({
        source: `OCI manifest ${d.digest}`,
        configPath: blobPath(config.digest),
        configDigest: config.digest,
        configSize: config.size,
        repoTags: tags,
        layers: layers.map((l) => ({ path: blobPath(l.digest), digest: l.digest, size: l.size })),
      });
    };
    for (const [i, d] of manifestsOf(index, 'index.json').entries()) {
      if (d.platform !== undefined && (d.platform.os !== 'linux' || d.platform.architecture !== opts.architecture)) continue;
      await visit(d, tagsOf(d.annotations), `index.json[${i}]`, 0);
    }
    if (out.length === 0) throw invalid(`OCI layout: no linux/${opts.architecture} image manifest in index.json`);
    return out;
  },
};
