import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForkdError } from '../../services/contracts/errors.js';
import { writeImageArchive, type ArchiveOptions, type ImageSpec } from './builders/image-writer.js';
import { zstdFile } from './compression.js';
import { importImageArchive, importImageArchiveAll } from './image-import.js';
import { ImageStore } from './image-store.js';
import { readTar } from './tar/reader.js';
import type { TarInput } from './tar/writer.js';
import { sha256, smallLayer, snapshot, tarBuffer } from './test-support.js';

/** A valid tar with no entries: two zero blocks. */
const EMPTY_TAR = Buffer.alloc(1024);

let dir: string;
let store: ImageStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forkd-import-'));
  store = new ImageStore(join(dir, 'data'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function spec(tag = 'test/app:1'): Promise<ImageSpec> {
  return {
    repoTag: tag,
    config: { Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '/w', User: '1000', ExposedPorts: { '80/tcp': {} } },
    layers: [await smallLayer('base'), await smallLayer('app')],
  };
}

async function build(name: string, opts: ArchiveOptions, s?: ImageSpec): Promise<{ file: string; id: string; diffIds: string[] }> {
  return writeImageArchive(join(dir, name), s ?? (await spec()), opts);
}

async function expectFailure(p: Promise<unknown>, code: string, match: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ForkdError);
  expect((err as ForkdError).code).toBe(code);
  expect((err as ForkdError).message).toMatch(match);
}

/** Rewrites an archive's entries through `edit` (undefined drops the entry). */
async function rewrite(src: string, dst: string, edit: (name: string, data: Buffer) => Buffer | undefined): Promise<void> {
  const entries: TarInput[] = [];
  for await (const e of readTar(await readFile(src).then((b) => [b]))) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    if (e.header.type === 'directory') {
      entries.push({ name: e.header.name, type: 'directory' });
      continue;
    }
    const data = edit(e.header.name, Buffer.concat(parts));
    if (data !== undefined) entries.push({ name: e.header.name, type: 'file', body: data });
  }
  await writeFile(dst, await tarBuffer(entries));
}

describe('importImageArchive', () => {
  const shapes: Array<[string, ArchiveOptions]> = [
    ['docker, plain', { format: 'docker' }],
    ['docker, gzip archive, gzip layers', { format: 'docker', compression: 'gzip', layerCompression: 'gzip' }],
    ['docker, zstd archive', { format: 'docker', compression: 'zstd' }],
    ['docker, zstd layers', { format: 'docker', layerCompression: 'zstd' }],
    ['oci, plain layers', { format: 'oci', layerCompression: 'none' }],
    ['oci, gzip layers, gzip archive', { format: 'oci', layerCompression: 'gzip', compression: 'gzip' }],
    ['oci, zstd layers, zstd archive', { format: 'oci', layerCompression: 'zstd', compression: 'zstd' }],
  ];
  for (const [label, opts] of shapes) {
    it(`imports ${label}`, async () => {
      const built = await build('img.tar', opts);
      const img = await importImageArchive(built.file, store);
      expect(img.id).toBe(built.id);
      expect(img.repoTags).toEqual(['test/app:1']);
      expect(img.config).toEqual({ Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '/w', User: '1000', ExposedPorts: { '80/tcp': {} } });
      expect(img.architecture).toBe('amd64');
      expect(img.os).toBe('linux');
      expect(img.layers.map((l) => l.diffId)).toEqual(built.diffIds);
      for (const l of img.layers) {
        const data = await readFile(l.path);
        expect(sha256(data)).toBe(l.diffId);
        expect(data.length).toBe(l.size);
        expect(l.path).toBe(join(store.root, 'layers/sha256', `${l.diffId.slice(7)}.tar`));
      }
      expect(img.size).toBe(img.layers.reduce((s, l) => s + l.size, 0));
      expect(await readdir(join(store.root, 'tmp'))).toEqual([]);
    });
  }

  it('imports Docker 25+ archives whose manifest.json points into blobs/sha256', async () => {
    const built = await build('oci.tar', { format: 'oci', layerCompression: 'gzip' });
    const index = JSON.parse((await readTarFile(built.file, 'index.json')).toString());
    const manifest = JSON.parse((await readTarFile(built.file, `blobs/sha256/${index.manifests[0].digest.slice(7)}`)).toString());
    const dockerManifest = [
      {
        Config: `blobs/sha256/${manifest.config.digest.slice(7)}`,
        RepoTags: ['new:style'],
        Layers: manifest.layers.map((l: { digest: string }) => `blobs/sha256/${l.digest.slice(7)}`),
      },
    ];
    const out = join(dir, 'docker25.tar');
    await rewrite(built.file, out, (_n, d) => d);
    const withManifest = Buffer.concat([(await readFile(out)).subarray(0, -1024), await tarBuffer([{ name: 'manifest.json', type: 'file', body: Buffer.from(JSON.stringify(dockerManifest)) }])]);
    await writeFile(out, withManifest);
    const img = await importImageArchive(out, store);
    expect(img.repoTags).toEqual(['new:style']);
    expect(img.id).toBe(built.id);
  });

  it('picks linux/<arch> from a nested multi-platform index and skips the others', async () => {
    const built = await build('oci.tar', { format: 'oci' });
    const index = JSON.parse((await readTarFile(built.file, 'index.json')).toString());
    const real = index.manifests[0];
    const nested = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: real.mediaType, digest: `sha256:${'e'.repeat(64)}`, size: 10, platform: { os: 'linux', architecture: 'arm64' } },
          { mediaType: real.mediaType, digest: real.digest, size: real.size, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: 'application/vnd.in-toto+json', digest: `sha256:${'f'.repeat(64)}`, size: 10 },
        ],
      }),
    );
    const top = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(nested), size: nested.length, annotations: real.annotations }] };
    const out = join(dir, 'multi.tar');
    await rewrite(built.file, out, (name, d) => (name === 'index.json' ? Buffer.from(JSON.stringify(top)) : d));
    const body = (await readFile(out)).subarray(0, -1024);
    await writeFile(out, Buffer.concat([body, await tarBuffer([{ name: `blobs/sha256/${sha256(nested).slice(7)}`, type: 'file', body: nested }])]));
    const img = await importImageArchive(out, store, { architecture: 'amd64' });
    expect(img.id).toBe(built.id);
    expect(img.repoTags).toEqual(['test/app:1']);
    await expectFailure(importImageArchive(out, new ImageStore(join(dir, 'other')), { architecture: 'arm64' }), 'ERR_IMAGE_INVALID', /is missing/);
    await expectFailure(importImageArchive(out, new ImageStore(join(dir, 'other')), { architecture: 's390x' }), 'ERR_IMAGE_INVALID', /no linux\/s390x image/);
  });

  it('follows symlinked layer.tar files in legacy docker save archives', async () => {
    const layer = await smallLayer('same');
    const diff = sha256(layer);
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diff, diff] } }));
    const archive = await tarBuffer([
      { name: 'aaa/layer.tar', type: 'file', body: layer },
      { name: 'bbb/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' },
      { name: `${sha256(cfg).slice(7)}.json`, type: 'file', body: cfg },
      { name: 'manifest.json', type: 'file', body: Buffer.from(JSON.stringify([{ Config: `${sha256(cfg).slice(7)}.json`, RepoTags: ['dup'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }])) },
    ]);
    await writeFile(join(dir, 'dup.tar'), archive);
    const img = await importImageArchive(join(dir, 'dup.tar'), store);
    expect(img.repoTags).toEqual(['dup:latest']);
    expect(img.layers.map((l) => l.diffId)).toEqual([diff, diff]);
  });

  it('adds tags given in the options', async () => {
    const built = await build('img.tar', { format: 'docker' });
    const img = await importImageArchive(built.file, store, { tags: ['extra'] });
    expect(img.repoTags).toEqual(['test/app:1', 'extra:latest']);
  });

  it('imports every image of a multi-image docker save and shares their layers', async () => {
    const base = await smallLayer('base');
    const a = await build('a.tar', { format: 'docker' }, { repoTag: 'a:1', config: {}, layers: [base, await smallLayer('a')] });
    const imgs = await importImageArchiveAll(a.file, store);
    expect(imgs).toHaveLength(1);
    const b = await build('b.tar', { format: 'docker' }, { repoTag: 'b:1', config: {}, layers: [base, await smallLayer('b')] });
    await importImageArchive(b.file, store);
    expect(await readdir(join(store.root, 'layers/sha256'))).toHaveLength(3);
  });

  it('imports the same image concurrently into one record', async () => {
    const built = await build('img.tar', { format: 'oci' });
    const stores = [store, store, new ImageStore(join(dir, 'data')), new ImageStore(join(dir, 'data'))];
    const results = await Promise.all(stores.map((s) => importImageArchive(built.file, s)));
    expect(new Set(results.map((r) => r.id))).toEqual(new Set([built.id]));
    expect(await store.list()).toHaveLength(1);
    expect(await readdir(join(store.root, 'layers/sha256'))).toHaveLength(2);
    expect(await readdir(join(store.root, 'tmp'))).toEqual([]);
    expect(await readdir(join(store.root, 'images'))).toHaveLength(1);
  });
});

async function readTarFile(archive: string, name: string): Promise<Buffer> {
  for await (const e of readTar([await readFile(archive)])) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    if (e.header.name === name) return Buffer.concat(parts);
  }
  throw new Error(`${name} not in ${archive}`);
}

describe('importImageArchive refuses bad archives and stores nothing', () => {
  let before: string[];
  beforeEach(async () => {
    // A store that already holds one image, to prove failures leave it as it was.
    const other = await build('other.tar', { format: 'docker' }, { repoTag: 'other', config: {}, layers: [await smallLayer('other')] });
    await importImageArchive(other.file, store);
    before = await snapshot(store.root);
  });
  afterEach(async () => {
    expect(await snapshot(store.root)).toEqual(before);
  });

  it('a flipped byte in an OCI layer blob: blob digest mismatch', async () => {
    const built = await build('img.tar', { format: 'oci', layerCompression: 'none' });
    const bad = join(dir, 'bad.tar');
    let flipped = false;
    await rewrite(built.file, bad, (name, d) => {
      if (!flipped && name.startsWith('blobs/') && d.length > 2000) {
        flipped = true;
        const c = Buffer.from(d);
        c[600] = (c[600] ?? 0) ^ 0xff;
        return c;
      }
      return d;
    });
    expect(flipped).toBe(true);
    await expectFailure(importImageArchive(bad, store), 'ERR_IMAGE_INVALID', /layer 1\/2.*blob digest mismatch/);
  });

  it('a changed layer in a docker save: diffId mismatch', async () => {
    const built = await build('img.tar', { format: 'docker' });
    const bad = join(dir, 'bad.tar');
    await rewrite(built.file, bad, (name, d) => (name.endsWith('layer.tar') && name.startsWith(built.diffIds[1]?.slice(7) ?? '') ? EMPTY_TAR : d));
    await expectFailure(importImageArchive(bad, store), 'ERR_IMAGE_INVALID', /layer 2\/2.*diffId mismatch/);
  });

  it('a config that does not match its digest', async () => {
    const built = await build('img.tar', { format: 'oci' });
    const bad = join(dir, 'bad.tar');
    await rewrite(built.file, bad, (name, d) => (name === `blobs/sha256/${built.id.slice(7)}` ? Buffer.from(d.toString().replace('amd64', 'arm64')) : d));
    await expectFailure(importImageArchive(bad, store), 'ERR_IMAGE_INVALID', /config digest mismatch/);
  });

  it('a missing blob', async () => {
    const built = await build('img.tar', { format: 'oci' });
    const bad = join(dir, 'bad.tar');
    await rewrite(built.file, bad, (name, d) => (name === `blobs/sha256/${built.id.slice(7)}` ? undefined : d));
    await expectFailure(importImageArchive(bad, store), 'ERR_IMAGE_INVALID', /config "blobs\/sha256\/[0-9a-f]+" is missing/);
  });

  it('config diff_ids that do not match the layer count', async () => {
    const layer = await smallLayer('x');
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    await writeFile(
      join(dir, 'bad.tar'),
      await tarBuffer([
        { name: 'l/layer.tar', type: 'file', body: layer },
        { name: 'c.json', type: 'file', body: cfg },
        { name: 'manifest.json', type: 'file', body: Buffer.from(JSON.stringify([{ Config: 'c.json', Layers: ['l/layer.tar'] }])) },
      ]),
    );
    await expectFailure(importImageArchive(join(dir, 'bad.tar'), store), 'ERR_IMAGE_INVALID', /1 layers but the config has 0 diff_ids/);
  });

  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    it(`a truncated archive (${compression})`, async () => {
      const built = await build('img.tar', { format: 'docker', compression });
      const data = await readFile(built.file);
      await writeFile(join(dir, 'cut.tar'), data.subarray(0, Math.floor(data.length * 0.6)));
      await expectFailure(importImageArchive(join(dir, 'cut.tar'), store), 'ERR_IMAGE_INVALID', /truncated/);
    });
  }

  it('a tar that is not an image', async () => {
    await writeFile(join(dir, 'plain.tar'), await tarBuffer([{ name: 'hello.txt', type: 'file', body: Buffer.from('hi') }]));
    await expectFailure(importImageArchive(join(dir, 'plain.tar'), store), 'ERR_IMAGE_INVALID', /not a docker-save or OCI image archive.*hello\.txt/);
  });

  it('a file that is not a tar at all, compressed or not', async () => {
    await writeFile(join(dir, 'junk'), Buffer.from('this is not a tar archive, just text\n'.repeat(40)));
    await expectFailure(importImageArchive(join(dir, 'junk'), store), 'ERR_IMAGE_INVALID', /checksum|octal/);
    await writeFile(join(dir, 'junk.gz'), gzipSync(Buffer.from('not a tar'.repeat(100))));
    await expectFailure(importImageArchive(join(dir, 'junk.gz'), store), 'ERR_IMAGE_INVALID', /tar/);
    await writeFile(join(dir, 'junk.raw'), Buffer.from('garbage'));
    await zstdFile(join(dir, 'junk.raw'), join(dir, 'junk.zst'));
    await expectFailure(importImageArchive(join(dir, 'junk.zst'), store), 'ERR_IMAGE_INVALID', /truncated/);
    await writeFile(join(dir, 'empty'), '');
    await expectFailure(importImageArchive(join(dir, 'empty'), store), 'ERR_IMAGE_INVALID', /empty/);
  });

  it('a layer with a path-traversal entry', async () => {
    const evil = await tarBuffer([{ name: '../../etc/evil', type: 'file', body: Buffer.from('x') }]);
    const built = await build('evil.tar', { format: 'docker' }, { repoTag: 'evil', config: {}, layers: [evil] });
    await expectFailure(importImageArchive(built.file, store), 'ERR_IMAGE_INVALID', /traversal/);
  });

  it('size limits: archive bytes, config bytes', async () => {
    const built = await build('img.tar', { format: 'docker' });
    await expectFailure(importImageArchive(built.file, store, { maxArchiveBytes: 4096 }), 'ERR_PAYLOAD_TOO_LARGE', /over the 4096-byte limit/);
    await expectFailure(importImageArchive(built.file, store, { maxConfigBytes: 64 }), 'ERR_PAYLOAD_TOO_LARGE', /config is \d+ bytes/);
  });
});

describe('importImageArchive ceilings (FORKD_IMAGE_MAX_*, FORKD_LAYER_MAX_FILES): refused while unpacking, nothing stored', () => {
  let before: string[];
  beforeEach(async () => {
    const other = await build('other.tar', { format: 'docker' }, { repoTag: 'other', config: {}, layers: [await smallLayer('other')] });
    await importImageArchive(other.file, store);
    before = await snapshot(store.root);
  });

  async function refused(p: Promise<unknown>, limit: string, max: number, layer?: number): Promise<ForkdError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ForkdError);
    const fe = err as ForkdError;
    expect(fe).toMatchObject({ code: 'ERR_IMAGE_TOO_LARGE', field: 'body', status: 413 });
    expect(fe.detail).toMatchObject({ limit, max, ...(layer === undefined ? {} : { layer }) });
    expect(fe.message).toContain(`${limit}=${max}`);
    expect(await snapshot(store.root)).toEqual(before);
    return fe;
  }

  it('layers per image: refused past the count, accepted at it', async () => {
    const built = await build('img.tar', { format: 'docker' });
    await refused(importImageArchive(built.file, store, { maxLayers: 1 }), 'FORKD_IMAGE_MAX_LAYERS', 1);
    expect((await importImageArchive(built.file, store, { maxLayers: 2 })).layers).toHaveLength(2);
  });

  it('unpacked bytes are summed over the image: the layer that crosses the ceiling is named', async () => {
    const l1 = await tarBuffer([{ name: 'a', type: 'file', body: Buffer.alloc(40_000, 1) }]);
    const l2 = await tarBuffer([{ name: 'b', type: 'file', body: Buffer.alloc(40_000, 2) }]);
    const img = { repoTag: 'two', config: {}, layers: [l1, l2] };
    // (Plain layers are met sooner, by the same ceiling on what the archive unpacks to: see below.)
    for (const layerCompression of ['gzip', 'zstd'] as const) {
      const built = await build(`two-${layerCompression}.tar`, { format: 'oci', layerCompression }, img);
      // Each layer alone fits; together they do not.
      const fe = await refused(importImageArchive(built.file, store, { maxUnpackedBytes: l1.length + l2.length - 1 }), 'FORKD_IMAGE_MAX_UNPACKED_BYTES', l1.length + l2.length - 1, 2);
      expect(fe.message).toMatch(/layer 2\/2/);
    }
    const ok = await importImageArchive((await build('two.tar', { format: 'oci', layerCompression: 'gzip' }, img)).file, store, { maxUnpackedBytes: l1.length + l2.length });
    expect(ok.size).toBe(l1.length + l2.length);
  });

  it('a gzip bomb stops at the ceiling, whatever its tar header claims', async () => {
    const big = await tarBuffer([{ name: 'zeros', type: 'file', body: Buffer.alloc(8 << 20) }]);
    const built = await build('bomb.tar', { format: 'oci', layerCompression: 'gzip' }, { repoTag: 'bomb', config: {}, layers: [big] });
    await refused(importImageArchive(built.file, store, { maxUnpackedBytes: 1 << 20 }), 'FORKD_IMAGE_MAX_UNPACKED_BYTES', 1 << 20, 1);
    expect((await importImageArchive(built.file, store, { maxUnpackedBytes: big.length })).size).toBe(big.length);
  });

  it('an archive that itself unpacks past the ceiling (gzip around plain layers)', async () => {
    const big = await tarBuffer([{ name: 'zeros', type: 'file', body: Buffer.alloc(4 << 20) }]);
    const built = await build('wrapped.tar', { format: 'docker', compression: 'gzip' }, { repoTag: 'wrapped', config: {}, layers: [big] });
    await refused(importImageArchive(built.file, store, { maxUnpackedBytes: 1 << 20 }), 'FORKD_IMAGE_MAX_UNPACKED_BYTES', 1 << 20);
    expect((await importImageArchive(built.file, store, { maxUnpackedBytes: 2 * big.length })).size).toBe(big.length);
  });

  it('files per layer: every entry counts (files, directories, links, whiteouts)', async () => {
    const entries: TarInput[] = [
      { name: 'd/', type: 'directory' },
      { name: 'd/f', type: 'file', body: Buffer.from('x') },
      { name: 'd/l', type: 'symlink', linkname: 'f' },
      { name: 'd/.wh.gone', type: 'file', body: Buffer.alloc(0) },
    ];
    const small = await smallLayer('small'); // 2 entries
    const built = await build('many.tar', { format: 'docker', layerCompression: 'gzip' }, { repoTag: 'many', config: {}, layers: [small, await tarBuffer(entries)] });
    const fe = await refused(importImageArchive(built.file, store, { maxLayerFiles: 3 }), 'FORKD_LAYER_MAX_FILES', 3, 2);
    expect(fe.message).toMatch(/layer 2\/2 .* more than 3 files/);
    expect((await importImageArchive(built.file, store, { maxLayerFiles: 4 })).layers).toHaveLength(2);
  });
});
