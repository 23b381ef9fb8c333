import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForkdError } from '../../services/contracts/errors.js';
import { writeImageArchive } from './builders/image-writer.js';
import { importImageArchive } from './image-import.js';
import { ImageStore, type StoredImage } from './image-store.js';
import { normalizeRef, parseRef } from './refs.js';
import { smallLayer } from './test-support.js';

let dir: string;
let store: ImageStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forkd-store-'));
  store = new ImageStore(join(dir, 'data'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function add(tag: string, layers: Buffer[]): Promise<StoredImage> {
  const built = await writeImageArchive(join(dir, `${tag.replace(/\W/g, '_')}.tar`), { repoTag: tag, config: { Cmd: [tag] }, layers }, { format: 'docker' });
  return importImageArchive(built.file, store);
}

async function code(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ForkdError);
  return (err as ForkdError).code;
}

describe('refs', () => {
  it('normalises docker-style references', () => {
    expect(parseRef('busybox')).toBe('busybox:latest');
    expect(parseRef('docker.io/library/busybox')).toBe('busybox:latest');
    expect(parseRef('docker.io/me/app:1.2')).toBe('me/app:1.2');
    expect(parseRef('localhost:5000/team/app:v1')).toBe('localhost:5000/team/app:v1');
    expect(parseRef('Upper')).toBeUndefined();
    expect(parseRef('a::b')).toBeUndefined();
    expect(() => normalizeRef('no spaces')).toThrow(/not a valid image reference/);
  });
});

describe('ImageStore', () => {
  it('starts empty and lists imported images', async () => {
    expect(await store.list()).toEqual([]);
    const a = await add('busybox:latest', [await smallLayer('a')]);
    const list = await store.list();
    expect(list.map((i) => i.id)).toEqual([a.id]);
    expect(list[0]?.layers[0]?.path).toBe(store.layerPath(a.layers[0]?.diffId ?? ''));
  });

  it('resolves full ids, prefixes of 12+ hex digits, and name[:tag]', async () => {
    const a = await add('busybox:latest', [await smallLayer('a')]);
    const hex = a.id.slice(7);
    for (const ref of [a.id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 12)}`, 'busybox', 'busybox:latest', 'docker.io/library/busybox:latest']) {
      expect((await store.get(ref)).id).toBe(a.id);
    }
    expect(await store.find(hex.slice(0, 11))).toBeUndefined();
    expect(await store.find('busybox:1')).toBeUndefined();
    expect(await code(store.get('nothere'))).toBe('ERR_NOT_FOUND');
    expect(await code(store.get('Not A Ref'))).toBe('ERR_VALIDATION');
  });

  it('refuses an ambiguous id prefix', async () => {
    const a = await add('a', [await smallLayer('a')]);
    // Fabricate a second record whose id shares a's first 12 digits.
    const twin = `${a.id.slice(7, 19)}${'0'.repeat(52)}`;
    const rec = { ...a, id: `sha256:${twin}`, repoTags: ['twin:latest'], layers: a.layers.map((l) => ({ ...l, path: '' })) };
    await writeFile(join(store.root, 'images', `${twin}.json`), JSON.stringify(rec));
    expect(await code(store.get(a.id.slice(7, 19)))).toBe('ERR_VALIDATION');
    expect(await code(store.delete(a.id.slice(7, 19)))).toBe('ERR_VALIDATION');
    expect((await store.get(a.id.slice(7, 20))).id).toBe(a.id);
    expect(await store.list()).toHaveLength(2);
  });

  it('tags and untags; a tag moves between images', async () => {
    const a = await add('a', [await smallLayer('a')]);
    const b = await add('b', [await smallLayer('b')]);
    await store.tag(a.id, 'shared:1');
    expect((await store.get('shared:1')).id).toBe(a.id);
    await store.tag('b', 'shared:1');
    expect((await store.get('shared:1')).id).toBe(b.id);
    expect((await store.get(a.id)).repoTags).toEqual(['a:latest']);
    await store.untag('shared:1');
    expect(await store.find('shared:1')).toBeUndefined();
    expect(await code(store.untag('shared:1'))).toBe('ERR_NOT_FOUND');
    // Importing an image whose tag another image holds moves the tag too.
    const a2 = await add('a', [await smallLayer('a2')]);
    expect((await store.get('a')).id).toBe(a2.id);
    expect((await store.get(a.id)).repoTags).toEqual([]);
  });

  it('delete removes the record and only the layers no other image uses', async () => {
    const base = await smallLayer('base');
    const a = await add('a', [base, await smallLayer('a')]);
    const b = await add('b', [base, await smallLayer('b')]);
    expect(await readdir(join(store.root, 'layers/sha256'))).toHaveLength(3);
    const r = await store.delete('a');
    expect(r.id).toBe(a.id);
    expect(r.removedLayers).toEqual([a.layers[1]?.diffId]);
    expect((await stat(store.layerPath(a.layers[0]?.diffId ?? ''))).size).toBe(base.length);
    expect(await readdir(join(store.root, 'layers/sha256'))).toHaveLength(2);
    expect((await store.get('b')).id).toBe(b.id);
    await store.delete(b.id);
    expect(await readdir(join(store.root, 'layers/sha256'))).toEqual([]);
    expect(await store.list()).toEqual([]);
    expect(await code(store.delete('b'))).toBe('ERR_NOT_FOUND');
  });

  it('re-importing is idempotent and keeps earlier tags', async () => {
    const layers = [await smallLayer('x')];
    const first = await add('x:1', layers);
    await store.tag(first.id, 'x:2');
    const again = await add('x:1', layers);
    expect(again.id).toBe(first.id);
    expect(again.repoTags).toEqual(['x:1', 'x:2']);
    expect(await store.list()).toHaveLength(1);
  });

  it('serialises concurrent deletes and imports sharing a layer', async () => {
    const base = await smallLayer('base');
    await add('a', [base, await smallLayer('a')]);
    const built = await writeImageArchive(join(dir, 'b.tar'), { repoTag: 'b', config: {}, layers: [base, await smallLayer('b')] }, { format: 'docker' });
    await Promise.all([store.delete('a'), importImageArchive(built.file, store)]);
    const b = await store.get('b');
    for (const l of b.layers) expect((await stat(l.path)).size).toBe(l.size);
  });

  it('takes over a lock left by a dead process', async () => {
    const a = await add('a', [await smallLayer('a')]);
    await mkdir(join(store.root, 'lock'));
    await writeFile(join(store.root, 'lock', 'pid'), '999999999');
    expect((await store.tag(a.id, 'b')).repoTags).toEqual(['a:latest', 'b:latest']);
    expect(await readdir(store.root)).not.toContain('lock');
  });

  it('cleanTmp removes directories of dead processes only', async () => {
    await store.init();
    await mkdir(join(store.root, 'tmp', '999999999-dead'));
    const mine = await store.makeTempDir();
    expect(await store.cleanTmp()).toBe(1);
    expect(await readdir(join(store.root, 'tmp'))).toEqual([mine.split('/').at(-1)]);
  });
});
