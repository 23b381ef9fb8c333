// Unpacks an image archive (docker save or OCI layout, plain/gzip/zstd) into a
// flat staging directory: every regular file becomes `<tmp>/f<n>` with its
// sha256 and size recorded under its archive path. No archive path ever
// becomes a host path, so hostile names cannot escape; symlinks and hard links
// inside the archive (docker save uses them for repeated layers) are resolved
// by name within the archive.

import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { ForkdError } from '../../../services/contracts/errors.js';
import { detectFileCompression, readDecompressed } from '../compression.js';
import { readTar } from '../tar/reader.js';
import { imageTooLarge } from './ceilings.js';

export interface ArchiveFile {
  path: string;
  file: string;
  size: number;
  /** `sha256:<hex>` of the file's bytes. */
  digest: string;
}

export interface ArchiveLimits {
  /** Largest archive accepted on disk (bytes). */
  maxArchiveBytes: number;
  /** Most bytes the archive's files unpack to, summed (FORKD_IMAGE_MAX_UNPACKED_BYTES). */
  maxUnpackedBytes: number;
  /** Most entries in the archive. */
  maxEntries: number;
}

export function invalid(message: string): ForkdError {
  return new ForkdError('ERR_IMAGE_INVALID', message);
}

export function tooLarge(message: string): ForkdError {
  return new ForkdError('ERR_PAYLOAD_TOO_LARGE', message);
}

/** Archive path in canonical form ('./a//b' → 'a/b'); undefined for paths that leave the archive. */
function canonical(name: string): string | undefined {
  const norm = posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
  return norm.startsWith('..') ? undefined : norm;
}

export class ArchiveFs {
  private readonly files = new Map<string, ArchiveFile>();
  private readonly links = new Map<string, string>();
  readonly names: string[] = [];

  private setLink(path: string, target: string | undefined): void {
    this.files.delete(path);
    if (target === undefined) this.links.delete(path);
    else this.links.set(path, target);
  }

  has(path: string): boolean {
    return this.lookup(path) !== undefined;
  }

  lookup(path: string): ArchiveFile | undefined {
    let p = canonical(path);
    for (let hops = 0; p !== undefined && hops < 16; hops++) {
      const f = this.files.get(p);
      if (f !== undefined) return f;
      const target = this.links.get(p);
      if (target === undefined) return undefined;
      p = target;
    }
    return undefined;
  }

  get(path: string, what: string): ArchiveFile {
    const f = this.lookup(path);
    if (f === undefined) throw invalid(`archive: ${what} ${JSON.stringify(path)} is missing`);
    return f;
  }

  async readJson(path: string, what: string, limit: number): Promise<unknown> {
    const f = this.get(path, what);
    if (f.size > limit) throw tooLarge(`archive: ${what} ${JSON.stringify(path)} is ${f.size} bytes, over the ${limit}-byte limit`);
    const text = await readFile(f.file, 'utf8');
    try {
      return JSON.parse(text);
    } catch (e) {
      throw invalid(`archive: ${what} ${JSON.stringify(path)} is not valid JSON (${(e as Error).message})`);
    }
  }

  /** Stages `archive` into `tmpDir`. */
  static async unpack(archive: string, tmpDir: string, limits: ArchiveLimits): Promise<ArchiveFs> {
    const st = await stat(archive).catch((e: NodeJS.ErrnoException) => {
      throw new ForkdError('ERR_NOT_FOUND', `image archive ${archive}: ${e.code ?? e.message}`);
    });
    if (!st.isFile()) throw invalid(`image archive ${archive} is not a regular file`);
    if (st.size > limits.maxArchiveBytes) throw tooLarge(`image archive is ${st.size} bytes, over the ${limits.maxArchiveBytes}-byte limit`);
    if (st.size === 0) throw invalid('image archive is empty');
    const fs = new ArchiveFs();
    const kind = await detectFileCompression(archive);
    let total = 0;
    let n = 0;
    for await (const { header, body } of readTar(readDecompressed(archive, kind, 'image archive'))) {
      if (++n > limits.maxEntries) throw tooLarge(`image archive has more than ${limits.maxEntries} entries`);
      const path = canonical(header.name);
      if (path === undefined || path === '') continue;
      fs.names.push(path);
      if (header.type === 'symlink') {
        const target = canonical(header.linkname.startsWith('/') ? header.linkname : posix.join(posix.dirname(path), header.linkname));
        fs.setLink(path, target);
        continue;
      }
      if (header.type === 'hardlink') {
        fs.setLink(path, canonical(header.linkname));
        continue;
      }
      if (header.type !== 'file') continue;
      // The tar reader yields exactly header.size bytes or fails as truncated, so
      // this refuses a file before writing it rather than trusting the claim.
      total += header.size;
      if (total > limits.maxUnpackedBytes) {
        throw imageTooLarge('FORKD_IMAGE_MAX_UNPACKED_BYTES', limits.maxUnpackedBytes, `image archive unpacks to more than ${limits.maxUnpackedBytes} bytes (at ${JSON.stringify(path)})`);
      }
      const file = `${tmpDir}/f${n}`;
      const hash = createHash('sha256');
      const fh = await open(file, 'wx', 0o600);
      try {
        for await (const chunk of body) {
          hash.update(chunk);
          let off = 0;
          while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        }
      } finally {
        await fh.close();
      }
      fs.links.delete(path);
      fs.files.set(path, { path, file, size: header.size, digest: `sha256:${hash.digest('hex')}` });
    }
    return fs;
  }
}
