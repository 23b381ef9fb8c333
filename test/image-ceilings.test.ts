// Image ceilings through the real upload path (POST /v1/images): a gzip bomb
// (a layer that unpacks to 256 MiB of zeros from well under 1 MiB) and a layer
// of too many files are refused with ERR_IMAGE_TOO_LARGE while they unpack,
// and leave nothing behind: no store file, no upload, no tmp dir, no row. The
// stack lowers the ceilings through the environment to keep this quick, and
// keeps a private image store so "nothing changed" means exactly that.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { snapshot, tarBuffer } from '../images/containers/test-support.js';
import { writeTar, type TarInput } from '../images/containers/tar/writer.js';
import { startStack, type Stack } from './harness.js';

const MiB = 1024 ** 2;
const MAX_UNPACKED = 64 * MiB;
const MAX_FILES = 2000;

let stack: Stack;
let work: string;

beforeAll(async () => {
  stack = await startStack({
    name: 'ceilings',
    hostd: false,
    privateImages: true,
    env: { FORKD_IMAGE_MAX_UNPACKED_BYTES: String(MAX_UNPACKED), FORKD_LAYER_MAX_FILES: String(MAX_FILES) },
  });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-ceilings-'));
});
afterAll(async () => {
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The same zero chunk over and over: the bomb never exists in memory or on disk unpacked. */
async function* zeros(total: number): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(MiB);
  for (let left = total; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
}

/**
 * A docker-save archive of one gzip layer made from `entries`, streamed through
 * sha256 (the diffId) and gzip into a file; the archive around it is small.
 */
async function gzipLayerImage(name: string, entries: () => AsyncIterable<TarInput> | Iterable<TarInput>): Promise<string> {
  const layerFile = join(work, `${name}.layer.gz`);
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(Readable.from(writeTar(entries())), tap, createGzip({ level: 9 }), createWriteStream(layerFile));
  const diffId = `sha256:${hash.digest('hex')}`;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['true'] }, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const manifest = Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: [`ceilings/${name}:1`], Layers: ['layer/layer.tar'] }]));
  const archive = join(work, `${name}.tar`);
  writeFileSync(
    archive,
    await tarBuffer([
      { name: 'layer/', type: 'directory' },
      { name: 'layer/layer.tar', type: 'file', body: readFileSync(layerFile) },
      { name: 'config.json', type: 'file', body: config },
      { name: 'manifest.json', type: 'file', body: manifest },
    ]),
  );
  return archive;
}

const zeroFileImage = (name: string, bytes: number): Promise<string> =>
  gzipLayerImage(name, () => [{ name: 'zeros', type: 'file', size: bytes, mode: 0o644, body: () => zeros(bytes) }]);

const manyFilesImage = (name: string, files: number): Promise<string> =>
  gzipLayerImage(name, function* () {
    for (let i = 0; i < files; i++) yield { name: `f${String(i).padStart(6, '0')}`, type: 'file', body: Buffer.alloc(0) };
  });

function upload(file: string): Promise<Response> {
  return stack.api('/v1/images', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: readFileSync(file) });
}

/** Everything an upload could leave: store records, layers, tmp dirs, upload files; and the image rows. */
async function state(): Promise<{ files: string[]; rows: unknown }> {
  const files = await snapshot(join(stack.dataDir, 'images'));
  const rows = await (await stack.api('/v1/images')).json();
  return { files, rows };
}

async function expectRefused(res: Response, limit: string, max: number): Promise<void> {
  const body = (await res.json()) as { error: { code: string; field?: string; message: string; detail?: Record<string, unknown> } };
  expect(res.status, body.error.message).toBe(413);
  expect(body.error).toMatchObject({ code: 'ERR_IMAGE_TOO_LARGE', field: 'body', detail: { limit, max, layer: 1, layerPath: 'layer/layer.tar' } });
  expect(body.error.message).toContain(`${limit}=${max}`);
}

describe('POST /v1/images under FORKD_IMAGE_MAX_UNPACKED_BYTES and FORKD_LAYER_MAX_FILES', () => {
  // First: it also makes the store's directories, so the refusals below compare a store that exists.
  it('imports an ordinary image (busybox) under both ceilings', { timeout: 120_000 }, async () => {
    const file = join(work, 'busybox.tar');
    await buildBusyboxImage(file, {});
    const res = await upload(file);
    expect(res.status, await res.clone().text()).toBe(201);
    const { images } = (await res.json()) as { images: { tags: string[] }[] };
    expect(images[0]!.tags).toContain('busybox:latest');
  });

  it('refuses a gzip bomb while it unpacks and stores nothing; an image under the ceiling imports', { timeout: 180_000 }, async () => {
    const bomb = await zeroFileImage('bomb', 256 * MiB);
    expect(statSync(bomb).size).toBeLessThan(MiB); // 256 MiB unpacked from under 1 MiB uploaded
    const before = await state();
    await expectRefused(await upload(bomb), 'FORKD_IMAGE_MAX_UNPACKED_BYTES', MAX_UNPACKED);
    expect(await state()).toEqual(before);

    const fits = await upload(await zeroFileImage('fits', 16 * MiB));
    expect(fits.status).toBe(201);
    const { images } = (await fits.json()) as { images: { tags: string[]; sizeBytes: number }[] };
    expect(images[0]).toMatchObject({ tags: ['ceilings/fits:1'] });
    expect(images[0]!.sizeBytes).toBeGreaterThan(16 * MiB);
  });

  it('refuses a layer of more files than the ceiling and stores nothing; one at the ceiling imports', { timeout: 120_000 }, async () => {
    const before = await state();
    await expectRefused(await upload(await manyFilesImage('many', MAX_FILES + 1)), 'FORKD_LAYER_MAX_FILES', MAX_FILES);
    expect(await state()).toEqual(before);

    const atCeiling = await upload(await manyFilesImage('enough', MAX_FILES));
    expect(atCeiling.status).toBe(201);
  });

});
