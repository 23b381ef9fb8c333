import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForkdError } from '../../services/contracts/errors.js';
import { extractLayer, opaqueToWhiteouts, safeRelPath } from './layer-extract.js';
import { writeTar, type TarInput } from './tar/writer.js';

const isRoot = process.getuid?.() === 0;

async function tarOf(entries: TarInput[], opts: { longNames?: 'pax' | 'gnu' } = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of writeTar(entries, opts)) parts.push(c);
  return Buffer.concat(parts);
}

async function expectInvalid(p: Promise<unknown>, match: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ForkdError);
  expect((err as ForkdError).code).toBe('ERR_IMAGE_INVALID');
  expect((err as ForkdError).message).toMatch(match);
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forkd-layer-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('safeRelPath', () => {
  it('normalises and refuses escapes', () => {
    expect(safeRelPath('./a/b/')).toBe('a/b');
    expect(safeRelPath('./')).toBe('');
    expect(() => safeRelPath('/etc/passwd')).toThrow(/absolute/);
    expect(() => safeRelPath('a/../../x')).toThrow(/traversal/);
    expect(() => safeRelPath('..')).toThrow(/traversal/);
  });
});

describe('extractLayer', () => {
  it('extracts files, dirs, symlinks, hard links with modes and mtimes', async () => {
    const tar = await tarOf([
      { name: 'bin/', type: 'directory', mode: 0o755, mtime: 1000 },
      { name: 'bin/busybox', type: 'file', mode: 0o755, mtime: 2000, body: Buffer.from('#!binary') },
      { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox', mtime: 3000 },
      { name: 'bin/ash', type: 'hardlink', linkname: 'bin/busybox' },
      { name: 'etc/passwd', type: 'file', mode: 0o600, body: Buffer.from('root:x:0:0::/root:/bin/sh\n') },
      { name: 'ro/', type: 'directory', mode: 0o555, mtime: 5000 },
      { name: 'ro/inner', type: 'file', body: Buffer.from('x') },
    ]);
    const out = join(dir, 'root');
    const r = await extractLayer(Readable.from([tar]), out);
    expect(r).toMatchObject({ files: 7, bytes: 8 + 26 + 1, whiteouts: 0, opaqueDirs: [] });
    expect(await readFile(join(out, 'bin/busybox'), 'utf8')).toBe('#!binary');
    expect((await stat(join(out, 'bin/busybox'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(out, 'bin/busybox'))).mtimeMs).toBe(2000_000);
    expect(await readlink(join(out, 'bin/sh'))).toBe('/bin/busybox');
    expect((await lstat(join(out, 'bin/sh'))).mtimeMs).toBe(3000_000);
    expect((await stat(join(out, 'bin/ash'))).ino).toBe((await stat(join(out, 'bin/busybox'))).ino);
    expect((await stat(join(out, 'etc/passwd'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(out, 'bin'))).mtimeMs).toBe(1000_000);
    expect((await stat(join(out, 'ro'))).mode & 0o777).toBe(0o555);
  });

  it('accepts an async iterable of Uint8Array chunks split at odd places', async () => {
    const tar = await tarOf([{ name: 'a'.repeat(150), type: 'file', body: Buffer.alloc(1000, 7) }], { longNames: 'gnu' });
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < tar.length; i += 37) yield new Uint8Array(tar.subarray(i, i + 37));
    }
    const r = await extractLayer(chunks(), dir);
    expect(r.bytes).toBe(1000);
    expect((await readFile(join(dir, 'a'.repeat(150)))).equals(Buffer.alloc(1000, 7))).toBe(true);
  });

  it('reads its source to the end, padding after the end marker included', async () => {
    const tar = await tarOf([{ name: 'f', type: 'file', body: Buffer.from('x') }]);
    let finished = false;
    async function* producer(): AsyncGenerator<Uint8Array> {
      yield tar;
      yield Buffer.alloc(10240 - (tar.length % 10240));
      finished = true;
    }
    await extractLayer(producer(), dir);
    expect(finished).toBe(true);
  });

  it('refuses absolute paths and traversal', async () => {
    await expectInvalid(extractLayer(Readable.from([await tarOf([{ name: '/etc/x', type: 'file', body: Buffer.from('x') }])]), dir), /absolute/);
    await expectInvalid(extractLayer(Readable.from([await tarOf([{ name: 'a/../../x', type: 'file', body: Buffer.from('x') }])]), dir), /traversal/);
    await expectInvalid(
      extractLayer(Readable.from([await tarOf([{ name: 'h', type: 'hardlink', linkname: '../../etc/passwd' }])]), dir),
      /traversal/,
    );
  });

  it('never writes through a symlink', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    const root = join(dir, 'root');
    const viaParent = await tarOf([
      { name: 'esc', type: 'symlink', linkname: outside },
      { name: 'esc/pwned', type: 'file', body: Buffer.from('x') },
    ]);
    await expectInvalid(extractLayer(Readable.from([viaParent]), root), /symlink/);
    expect(await readdir(outside)).toEqual([]);

    await writeFile(join(outside, 'victim'), 'safe');
    const overFinal = await tarOf([
      { name: 'v', type: 'symlink', linkname: join(outside, 'victim') },
      { name: 'v', type: 'file', body: Buffer.from('pwned') },
    ]);
    await extractLayer(Readable.from([overFinal]), join(dir, 'root2'));
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('safe');
    expect(await readFile(join(dir, 'root2/v'), 'utf8')).toBe('pwned');

    const dirOverLink = await tarOf([
      { name: 'd', type: 'symlink', linkname: outside },
      { name: 'd/', type: 'directory' },
      { name: 'd/f', type: 'file', body: Buffer.from('inside') },
    ]);
    await extractLayer(Readable.from([dirOverLink]), join(dir, 'root4'));
    expect((await lstat(join(dir, 'root4/d'))).isDirectory()).toBe(true);
    expect(await readFile(join(dir, 'root4/d/f'), 'utf8')).toBe('inside');
    expect(await readdir(outside)).toEqual(['victim']);

    const linkVia = await tarOf([
      { name: 'esc', type: 'symlink', linkname: outside },
      { name: 'h', type: 'hardlink', linkname: 'esc/victim' },
    ]);
    await expectInvalid(extractLayer(Readable.from([linkVia]), join(dir, 'root3')), /symlink/);
  });

  it('refuses a hard link to something not in the layer', async () => {
    await expectInvalid(
      extractLayer(Readable.from([await tarOf([{ name: 'h', type: 'hardlink', linkname: 'nope' }])]), dir),
      /not in the layer/,
    );
  });

  it('refuses compressed input with a clear message', async () => {
    const { gzipSync } = await import('node:zlib');
    const tar = await tarOf([{ name: 'a', type: 'file', body: Buffer.from('x') }]);
    await expectInvalid(extractLayer(Readable.from([gzipSync(tar)]), dir), /gzip-compressed/);
  });

  it('reports truncated and corrupt layers', async () => {
    const tar = await tarOf([{ name: 'a', type: 'file', body: Buffer.alloc(4000, 1) }]);
    await expectInvalid(extractLayer(Readable.from([tar.subarray(0, 2000)]), dir), /truncated/);
    const bad = Buffer.from(tar);
    bad[10] = 0x41;
    await expectInvalid(extractLayer(Readable.from([bad]), join(dir, 'b')), /checksum/);
  });

  it.runIf(isRoot)('turns .wh.<name> into a 0/0 char device and records opaque dirs', async () => {
    const seen: string[] = [];
    const tar = await tarOf([
      { name: 'etc/.wh.motd', type: 'file' },
      { name: 'var/cache/.wh..wh..opq', type: 'file' },
      { name: 'keep/.wh.x', type: 'file' },
      { name: 'keep/x', type: 'file', body: Buffer.from('real') },
    ]);
    const r = await extractLayer(Readable.from([tar]), dir, { onOpaqueDir: async (_abs, rel) => void seen.push(rel) });
    expect(r.whiteouts).toBe(2);
    expect(r.opaqueDirs).toEqual(['var/cache']);
    expect(seen).toEqual(['var/cache']);
    const wh = await lstat(join(dir, 'etc/motd'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect((await lstat(join(dir, 'var/cache'))).isDirectory()).toBe(true);
    expect(await readdir(join(dir, 'var/cache'))).toEqual([]);
    // the real file replaced its own whiteout (later entry wins)
    expect(await readFile(join(dir, 'keep/x'), 'utf8')).toBe('real');
  });

  it.runIf(isRoot)('opaqueToWhiteouts hides lower entries without xattrs', async () => {
    const lower = join(dir, 'lower');
    const upper = join(dir, 'upper');
    await mkdir(join(lower, 'var/cache'), { recursive: true });
    await writeFile(join(lower, 'var/cache/old1'), '');
    await writeFile(join(lower, 'var/cache/keep'), '');
    await mkdir(join(upper, 'var/cache'), { recursive: true });
    await writeFile(join(upper, 'var/cache/keep'), 'new');
    expect(await opaqueToWhiteouts(upper, 'var/cache', [lower])).toBe(1);
    expect((await lstat(join(upper, 'var/cache/old1'))).isCharacterDevice()).toBe(true);
    expect(await opaqueToWhiteouts(upper, 'var/cache', [lower])).toBe(0);
  });

  it.runIf(isRoot)('creates device nodes and FIFOs as root', async () => {
    const tar = await tarOf([
      { name: 'dev/null', type: 'chardev', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'run/fifo', type: 'fifo', mode: 0o600 },
    ]);
    await extractLayer(Readable.from([tar]), dir);
    const st = await lstat(join(dir, 'dev/null'));
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(0x103);
    expect((await lstat(join(dir, 'run/fifo'))).isFIFO()).toBe(true);
  });

  it('extracts a tar made by GNU tar', async () => {
    const src = join(dir, 'src');
    await mkdir(join(src, 'd/' + 'n'.repeat(120)), { recursive: true });
    await writeFile(join(src, 'd/' + 'n'.repeat(120) + '/f'), 'hello');
    execFileSync('ln', ['-s', 'f', join(src, 'd/' + 'n'.repeat(120) + '/l')]);
    const tar = execFileSync('tar', ['-C', src, '--format=gnu', '-cf', '-', '.']);
    const out = join(dir, 'out');
    await extractLayer(Readable.from([tar]), out);
    expect(await readFile(join(out, 'd/' + 'n'.repeat(120) + '/l'), 'utf8')).toBe('hello');
    const pax = execFileSync('tar', ['-C', src, '--format=pax', '-cf', '-', '.']);
    await extractLayer(Readable.from([pax]), join(dir, 'out2'));
    expect(await readFile(join(dir, 'out2/d/' + 'n'.repeat(120) + '/f'), 'utf8')).toBe('hello');
  });
});
