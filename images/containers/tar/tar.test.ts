import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../../services/contracts/errors.js';
import { BLOCK, encodeHeader, encodePax, parsePax, type TarHeader } from './header.js';
import { readTar, type ReadTarOptions } from './reader.js';
import { writeTar, type TarInput } from './writer.js';

async function tarOf(entries: TarInput[], longNames: 'pax' | 'gnu' = 'pax'): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of writeTar(entries, { longNames })) parts.push(c);
  return Buffer.concat(parts);
}

async function readAll(tar: Buffer, opts?: ReadTarOptions): Promise<Array<{ h: TarHeader; data: Buffer }>> {
  const out: Array<{ h: TarHeader; data: Buffer }> = [];
  for await (const e of readTar(Readable.from([tar]), opts)) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    out.push({ h: e.header, data: Buffer.concat(parts) });
  }
  return out;
}

async function invalidMessage(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ForkdError);
  expect((err as ForkdError).code).toBe('ERR_IMAGE_INVALID');
  return (err as ForkdError).message;
}

const longName = `${'dir-'.repeat(40)}/file-with-a-long-name-é.txt`;
const sample: TarInput[] = [
  { name: 'a/', type: 'directory', mode: 0o750, mtime: 1234567890 },
  { name: 'a/file', type: 'file', mode: 0o640, uid: 1000, gid: 1001, uname: 'u', gname: 'g', mtime: 1234567891, body: Buffer.from('hello\n') },
  { name: longName, type: 'file', body: Buffer.alloc(BLOCK * 3 + 7, 0x61) },
  { name: 'a/link', type: 'symlink', linkname: `/${'x'.repeat(150)}` },
  { name: 'a/hard', type: 'hardlink', linkname: 'a/file' },
  { name: 'dev/null', type: 'chardev', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: 'empty', type: 'file', body: Buffer.alloc(0) },
];

describe('tar writer and reader', () => {
  for (const longNames of ['pax', 'gnu'] as const) {
    it(`round-trips every entry type with ${longNames} long names`, async () => {
      const tar = await tarOf(sample, longNames);
      expect(tar.length % BLOCK).toBe(0);
      const got = await readAll(tar);
      expect(got.map((e) => e.h.name)).toEqual(sample.map((e) => e.name));
      expect(got[0]?.h).toMatchObject({ type: 'directory', mode: 0o750, mtime: 1234567890 });
      expect(got[1]?.h).toMatchObject({ type: 'file', mode: 0o640, uid: 1000, gid: 1001, uname: 'u', gname: 'g', size: 6 });
      expect(got[1]?.data.toString()).toBe('hello\n');
      expect(got[2]?.data.equals(Buffer.alloc(BLOCK * 3 + 7, 0x61))).toBe(true);
      expect(got[3]?.h.linkname).toBe(`/${'x'.repeat(150)}`);
      expect(got[4]?.h).toMatchObject({ type: 'hardlink', linkname: 'a/file' });
      expect(got[5]?.h).toMatchObject({ type: 'chardev', devmajor: 1, devminor: 3 });
      expect(got[6]?.data.length).toBe(0);
    });
  }

  it('writes tars that GNU tar reads, and reads what GNU tar writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forkd-tar-'));
    try {
      const tar = await tarOf(sample.filter((e) => e.type !== 'chardev'));
      writeFileSync(join(dir, 'x.tar'), tar);
      const listing = execFileSync('tar', ['-tvf', join(dir, 'x.tar')], { encoding: 'utf8' });
      expect(listing).toContain('file-with-a-long-name-é.txt');
      expect(listing).toContain(`a/link -> /${'x'.repeat(150)}`);
      execFileSync('tar', ['-xf', join(dir, 'x.tar'), '-C', dir]);
      expect(readFileSync(join(dir, 'a/file'), 'utf8')).toBe('hello\n');
      rmSync(join(dir, 'a/link'));
      execFileSync('ln', ['-s', 'file', join(dir, 'a/link')]);
      for (const format of ['gnu', 'pax', 'ustar', 'v7']) {
        const made = execFileSync('tar', ['-C', dir, `--format=${format}`, '-cf', '-', 'a']);
        const got = await readAll(made);
        expect(got.map((e) => e.h.name.replace(/\/$/, '')).sort()).toEqual(['a', 'a/file', 'a/hard', 'a/link']);
        expect(got.find((e) => e.h.name === 'a/file')?.data.toString()).toBe('hello\n');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('skips unread bodies when moving to the next entry', async () => {
    const tar = await tarOf([
      { name: 'big', type: 'file', body: Buffer.alloc(100_000, 1) },
      { name: 'next', type: 'file', body: Buffer.from('n') },
    ]);
    const names: string[] = [];
    for await (const e of readTar(Readable.from([tar]))) names.push(e.header.name);
    expect(names).toEqual(['big', 'next']);
  });

  it('encodes sizes beyond octal range in base-256', () => {
    const h = encodeHeader({ name: 'huge', type: 'file', size: 2 ** 40 });
    expect(h[124]).toBe(0x80);
  });

  it('PAX records round-trip, including lengths that change digit count', () => {
    for (const n of [1, 90, 91, 92, 93, 995, 996, 997, 10_000]) {
      const rec = { path: 'p'.repeat(n), 'SCHILY.xattr.user.x': 'v' };
      expect(parsePax(encodePax(rec))).toEqual(rec);
    }
  });
});

describe('hostile and broken tars', () => {
  it('rejects a bad checksum', async () => {
    const tar = await tarOf([{ name: 'a', type: 'file', body: Buffer.from('x') }]);
    tar[0] = 0x62;
    expect(await invalidMessage(readAll(tar))).toMatch(/checksum/);
  });

  it('rejects a truncated header, truncated data and a missing end marker', async () => {
    const tar = await tarOf([{ name: 'a', type: 'file', body: Buffer.alloc(2000, 1) }]);
    expect(await invalidMessage(readAll(tar.subarray(0, 300)))).toMatch(/truncated header/);
    expect(await invalidMessage(readAll(tar.subarray(0, 1200)))).toMatch(/truncated/);
    expect(await invalidMessage(readAll(tar.subarray(0, BLOCK * 5)))).toMatch(/no end-of-archive/);
    expect(await readAll(tar.subarray(0, BLOCK * 5), { allowMissingEnd: true })).toHaveLength(1);
  });

  it('rejects random garbage and an empty stream', async () => {
    const junk = Buffer.alloc(4096);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) % 251;
    expect(await invalidMessage(readAll(junk))).toMatch(/checksum|octal/);
    expect(await invalidMessage(readAll(Buffer.alloc(0)))).toMatch(/truncated/);
  });

  it('rejects huge size fields instead of trusting them', async () => {
    const h = encodeHeader({ name: 'huge', type: 'file', size: 0 });
    h.fill(0xff, 124, 136);
    h[124] = 0x80; // base-256, 2^88-ish
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
    h[154] = 0;
    expect(await invalidMessage(readAll(Buffer.concat([h, Buffer.alloc(BLOCK * 2)])))).toMatch(/too large/);
    const big = await tarOf([{ name: 'a', type: 'file', body: Buffer.alloc(5000) }]);
    expect(await invalidMessage(readAll(big, { maxEntrySize: 4096 }))).toMatch(/exceeds/);
  });

  it('bounds PAX and GNU long-name records', async () => {
    const tar = await tarOf([{ name: 'n'.repeat(5000), type: 'file', body: Buffer.from('x') }], 'gnu');
    expect(await invalidMessage(readAll(tar, { maxMetaSize: 1024 }))).toMatch(/limit/);
    const pax = Buffer.concat([encodeHeader({ name: 'PaxHeader', type: 'pax-header', size: 10 }), Buffer.from('99 path=x\n'), Buffer.alloc(BLOCK - 10)]);
    expect(await invalidMessage(readAll(Buffer.concat([pax, Buffer.alloc(BLOCK * 2)])))).toMatch(/PAX/);
  });

  it('bounds a run of PAX records in front of one entry, and global ones over the archive', async () => {
    const paxRecord = (type: 'pax-header' | 'pax-global', key: string): Buffer => {
      const data = encodePax({ [key]: 'v'.repeat(400) });
      return Buffer.concat([encodeHeader({ name: 'PaxHeader', type, size: data.length }), data, Buffer.alloc(BLOCK - data.length)]);
    };
    const file = await tarOf([{ name: 'a', type: 'file', body: Buffer.from('x') }]);
    // Each record is ~420 bytes, under the 1024-byte limit; three in a row are not.
    const run = (type: 'pax-header' | 'pax-global', n: number, perEntry: boolean): Buffer => {
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) parts.push(paxRecord(type, `comment.${i}`), ...(perEntry ? [file.subarray(0, BLOCK * 2)] : []));
      return Buffer.concat([...parts, file]);
    };
    expect(await invalidMessage(readAll(run('pax-header', 3, false), { maxMetaSize: 1024 }))).toMatch(/add up to more than the 1024-byte limit/);
    expect(await invalidMessage(readAll(run('pax-global', 3, true), { maxMetaSize: 1024 }))).toMatch(/PAX global header records add up/);
    // Two before one entry fit; so do local records before each of many entries.
    expect(await readAll(run('pax-header', 2, false), { maxMetaSize: 1024 })).toHaveLength(1);
    expect(await readAll(run('pax-header', 5, true), { maxMetaSize: 1024 })).toHaveLength(6);
  });

  it('rejects data after a single end-of-archive block', async () => {
    const one = await tarOf([{ name: 'a', type: 'file', body: Buffer.from('x') }]);
    const tar = Buffer.concat([one.subarray(0, BLOCK * 3), one.subarray(0, BLOCK * 2), Buffer.alloc(BLOCK * 2)]);
    expect(await invalidMessage(readAll(tar))).toMatch(/after an end-of-archive/);
  });
});
