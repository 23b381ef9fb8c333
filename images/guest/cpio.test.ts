import { describe, expect, it } from 'vitest';
import { newcArchive } from './cpio.js';

interface Parsed { name: string; mode: number; size: number; rdevMajor: number; rdevMinor: number; data: Buffer }

function parseNewc(buf: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let off = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    expect(buf.toString('ascii', off, off + 6)).toBe('070701');
    const field = (i: number) => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const namesize = field(11);
    const name = buf.toString('utf8', off + 110, off + 110 + namesize - 1);
    const dataStart = align(off + 110 + namesize);
    out.push({ name, mode, size, rdevMajor: field(9), rdevMinor: field(10), data: buf.subarray(dataStart, dataStart + size) });
    off = align(dataStart + size);
    if (name === 'TRAILER!!!') break;
  }
  expect(off).toBe(buf.length);
  return out;
}

describe('newc cpio writer', () => {
  it('writes directories, files, symlinks and device nodes the kernel can unpack', () => {
    const archive = newcArchive([
      { kind: 'dir', path: '/bin' },
      { kind: 'file', path: 'bin/busybox', data: Buffer.from('ELF!!'), mode: 0o755 },
      { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
      { kind: 'dir', path: 'dev' },
      { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
      { kind: 'file', path: 'init', data: '#!/bin/sh\n' },
    ]);
    const entries = parseNewc(archive);
    expect(entries.map((e) => e.name)).toEqual(['bin', 'bin/busybox', 'bin/sh', 'dev', 'dev/console', 'init', 'TRAILER!!!']);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('bin')!.mode).toBe(0o040755);
    expect(byName.get('bin/busybox')!.mode).toBe(0o100755);
    expect(byName.get('bin/busybox')!.data.toString()).toBe('ELF!!');
    expect(byName.get('bin/sh')!.mode).toBe(0o120777);
    expect(byName.get('bin/sh')!.data.toString()).toBe('busybox');
    expect(byName.get('dev/console')).toMatchObject({ mode: 0o020600, rdevMajor: 5, rdevMinor: 1 });
    expect(byName.get('init')!.data.toString()).toBe('#!/bin/sh\n');
  });

  it('is deterministic', () => {
    const make = () => newcArchive([{ kind: 'file', path: 'a', data: 'x' }]);
    expect(make().equals(make())).toBe(true);
  });
});
