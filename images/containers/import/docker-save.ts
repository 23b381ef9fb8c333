// `docker save` archives: manifest.json lists each image's config file, tags
// and layer files. Older Docker names files `<hex>.json` and `<id>/layer.tar`;
// Docker 25+ points into `blobs/sha256/<hex>`. A file named by its digest is
// checked against that digest.

import { invalid, type ArchiveFs } from './archive-fs.js';
import { isObject, isStringArray, type FormatOptions, type ImageCandidate, type ImageFormat } from './formats.js';

/** The digest a path claims by its name, if any. */
function claimedDigest(path: string): string | undefined {
  const m = /(?:^|\/)(?:blobs\/sha256\/)?([0-9a-f]{64})(?:\.json)?$/.exec(path);
  return m === null ? undefined : `sha256:${m[1]}`;
}

export const dockerSave: ImageFormat = {
  name: 'docker-save',
  detect: (fs) => fs.has('manifest.json'),
  async images(fs: ArchiveFs, opts: FormatOptions): Promise<ImageCandidate[]> {
    const manifest = await fs.readJson('manifest.json', 'manifest', opts.maxManifestBytes);
    if (!Array.isArray(manifest) || manifest.length === 0) throw invalid('docker save: manifest.json is not a non-empty array');
    return manifest.map((entry, i): ImageCandidate => {
      const source = `docker save manifest.json[${i}]`;
      if (!isObject(entry) || typeof entry.Config !== 'string' || !isStringArray(entry.Layers)) {
        throw invalid(`${source}: needs Config (string) and Layers (string[])`);
      }
      const tags = entry.RepoTags ?? [];
      if (!isStringArray(tags)) throw invalid(`${source}: RepoTags is not a string array`);
      const configDigest = claimedDigest(entry.Config);
      return {
        source,
        configPath: entry.Config,
        ...(configDigest === undefined ? {} : { configDigest }),
        repoTags: tags,
        layers: entry.Layers.map((path) => {
          const digest = /(?:^|\/)blobs\/sha256\/[0-9a-f]{64}$/.test(path) ? claimedDigest(path) : undefined;
          return { path, ...(digest === undefined ? {} : { digest }) };
        }),
      };
    });
  },
};
