// A newc ("070701") cpio writer for initramfs images. Written here rather than
// piping `find | cpio` so the archive is deterministic (inode numbers, mtime 0,
// root ownership) and can hold /dev/console without the builder running as root.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { spawn } from 'node:child_process';
import { ForkdError } from '../../services/contracts/errors.js';
import type { InitramfsCompression } from './kernel.js';

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer | string; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'char'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

function record(ino: number, mode: number, nlink: number, data: Buffer, name: string, rdev: [number, number] = [0, 0]): Buffer[] {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const header = Buffer.from(
    '070701' +
      [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0].map(hex8).join(''),
    'ascii',
  );
  return [header, nameBuf, pad4(header.length + nameBuf.length), data, pad4(data.length)];
}

/** Builds an uncompressed newc archive; parents must come before their children. */
export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    if (path === '') throw new ForkdError('ERR_INTERNAL', 'cpio entry with an empty path');
    switch (e.kind) {
      case 'dir':
        parts.push(...record(ino++, S_IFDIR | (e.mode ?? 0o755), 2, Buffer.alloc(0), path));
        break;
      case 'file':
        parts.push(...record(ino++, S_IFREG | (e.mode ?? 0o644), 1, Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data, 'utf8'), path));
        break;
      case 'symlink':
        parts.push(...record(ino++, S_IFLNK | 0o777, 1, Buffer.from(e.target, 'utf8'), path));
        break;
      case 'char':
        parts.push(...record(ino++, S_IFCHR | (e.mode ?? 0o600), 1, Buffer.alloc(0), path, [e.major, e.minor]));
        break;
    }
  }
  parts.push(...record(0, 0, 1, Buffer.alloc(0), 'TRAILER!!!'));
  return Buffer.concat(parts);
}

export async function compress(data: Buffer, how: InitramfsCompression): Promise<Buffer> {
  if (how === 'gzip') return promisify(gzip)(data, { level: 6 });
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', ['-19', '-q', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (cause) => reject(new ForkdError('ERR_CONFIG', '`zstd` is needed to compress the initramfs (Debian: zstd)', { cause })));
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new ForkdError('ERR_INTERNAL', `zstd failed (exit ${code}): ${stderr}`))));
    child.stdin.end(data);
  });
}
