// `docker save` archives made from forkd's image store: manifest.json, one
// config blob per image (named by its digest) and each layer's uncompressed
// tar as `<diffId hex>/layer.tar`, which `docker load` (and forkd's own
// import) reads back. The config is rebuilt from what the store keeps, so a
// saved image's id may differ from the one it was loaded with; its tags,
// layers and config are the same.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { StoredImage } from '../../../images/containers/image-store.js';
import { writeTar, type TarInput } from '../../../images/containers/tar/writer.js';

/** The OCI image config forkd's store describes. */
export function configBlob(img: StoredImage): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: img.architecture || 'amd64',
    os: img.os || 'linux',
    created: img.created,
    config: img.config,
    rootfs: { type: 'layers', diff_ids: img.layers.map((l) => l.diffId) },
    history: img.layers.map(() => ({ created: img.created, created_by: 'forkd save' })),
  }));
}

export function saveEntries(images: ReadonlyArray<{ image: StoredImage; tags: string[] }>): TarInput[] {
  const mtime = Math.floor(Date.now() / 1000);
  const entries: TarInput[] = [];
  const written = new Set<string>();
  const manifest: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { image, tags } of images) {
    const config = configBlob(image);
    const hex = createHash('sha256').update(config).digest('hex');
    const configName = `${hex}.json`;
    if (!written.has(configName)) {
      written.add(configName);
      entries.push({ name: configName, type: 'file', mode: 0o644, mtime, body: config });
    }
    const layers: string[] = [];
    for (const l of image.layers) {
      const dir = l.diffId.replace(/^sha256:/, '');
      const name = `${dir}/layer.tar`;
      layers.push(name);
      if (written.has(name)) continue;
      written.add(name);
      entries.push({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime });
      entries.push({ name, type: 'file', mode: 0o644, mtime, size: l.size, body: () => createReadStream(l.path) });
    }
    manifest.push({ Config: configName, RepoTags: tags, Layers: layers });
    for (const t of tags) {
      const i = t.lastIndexOf(':');
      (repositories[t.slice(0, i)] ??= {})[t.slice(i + 1)] = hex;
    }
  }
  entries.push({ name: 'manifest.json', type: 'file', mode: 0o644, mtime, body: Buffer.from(JSON.stringify(manifest)) });
  entries.push({ name: 'repositories', type: 'file', mode: 0o644, mtime, body: Buffer.from(JSON.stringify(repositories)) });
  return entries;
}

export function saveArchive(images: ReadonlyArray<{ image: StoredImage; tags: string[] }>): AsyncGenerator<Buffer> {
  return writeTar(saveEntries(images));
}
