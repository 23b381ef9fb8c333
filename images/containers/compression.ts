// Compression detected by magic bytes, never by file name or media type:
// gzip through node:zlib, zstd through the `zstd` command (node:zlib on
// Node 20 has no zstd). xz and bzip2 are recognised and refused by name.

import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { ForkdError } from '../../services/contracts/errors.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

export function detectCompression(head: Uint8Array): Compression {
  const b = (i: number): number => head[i] ?? -1;
  if (b(0) === 0x1f && b(1) === 0x8b) return 'gzip';
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) return 'zstd';
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a && b(5) === 0x00) return 'xz';
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68) return 'bzip2';
  return 'none';
}

export async function detectFileCompression(file: string): Promise<Compression> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(6);
    const { bytesRead } = await fh.read(head, 0, 6, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

function invalid(what: string, message: string, cause?: unknown): ForkdError {
  return new ForkdError('ERR_IMAGE_INVALID', `${what}: ${message}`, cause === undefined ? {} : { cause });
}

async function* gunzip(file: string, what: string): AsyncGenerator<Buffer> {
  const gz = createReadStream(file).pipe(createGunzip());
  try {
    for await (const chunk of gz) yield chunk as Buffer;
  } catch (e) {
    throw invalid(what, `corrupt or truncated gzip data (${(e as Error).message})`, e);
  } finally {
    gz.destroy();
  }
}

async function* unzstd(file: string, what: string): AsyncGenerator<Buffer> {
  const child = spawn('zstd', ['-d', '-c', '-q', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  let done = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const r = await exited;
    if (r.error !== undefined) {
      const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
      throw missing ? invalid(what, 'zstd-compressed, and no `zstd` command is installed to read it') : r.error;
    }
    if (r.code !== 0) throw invalid(what, `corrupt or truncated zstd data (${stderr.trim() || `zstd exit ${r.code}`})`);
    done = true;
  } finally {
    if (!done && child.exitCode === null) child.kill('SIGKILL');
  }
}

/** The decompressed bytes of `file`, whatever its (supported) compression. */
export function readDecompressed(file: string, kind: Compression, what: string): AsyncIterable<Buffer> {
  switch (kind) {
    case 'none':
      return createReadStream(file) as AsyncIterable<Buffer>;
    case 'gzip':
      return gunzip(file, what);
    case 'zstd':
      return unzstd(file, what);
    default:
      throw invalid(what, `${kind}-compressed data is not supported (use gzip or zstd)`);
  }
}

/** Compresses a file with the zstd command (builders and tests). */
export function zstdFile(input: string, output: string, level = 3): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', ['-q', '-f', `-${level}`, '-o', output, '--', input], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`zstd failed: ${stderr.trim()}`))));
  });
}
