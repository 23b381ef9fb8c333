// Unpacks one uncompressed OCI/Docker layer tar into a directory that overlayfs
// can stack as a lower layer. Runs in the guest agent (bundled by esbuild), so
// it uses Node built-ins only and needs nothing from the guest but `mknod`
// (busybox has it) for whiteouts and device nodes.
//
// The tar is hostile: absolute names and `..` are refused, nothing is ever
// written through a symlink (a parent that is a symlink is refused; an existing
// final path is unlinked and recreated with O_EXCL), and hard links may only
// point at paths inside the layer.
//
// Whiteouts: `.wh.<name>` becomes a 0/0 character device `<name>` (overlayfs
// form). Opaque markers `.wh..wh..opq` cannot become the `trusted.overlay.opaque`
// xattr here: Node has no xattr API and busybox has no setfattr. They are
// returned in `opaqueDirs` (and passed to `onOpaqueDir` if given); the caller
// keeps that list beside the layer and, before mounting, either sets the xattr
// where a tool exists or calls `opaqueToWhiteouts`, which gives the same view
// with whiteouts only (see docs/images.md).

import { execFile } from 'node:child_process';
import { constants as C, type Stats } from 'node:fs';
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { ForkdError } from '../../services/contracts/errors.js';
import { toChunks, type ByteSource } from './tar/byte-reader.js';
import { invalid, type TarHeader } from './tar/header.js';
import { readTar } from './tar/reader.js';

export type MknodKind = 'c' | 'b' | 'p';

export interface ExtractOptions {
  /** chown entries, create device nodes and whiteouts. Default: running as root. */
  asRoot?: boolean;
  /** Creates a device node or FIFO. Default: the `mknod` command (or `busybox mknod`). */
  mknod?: (path: string, kind: MknodKind, major: number, minor: number) => Promise<void>;
  /** Called once per opaque directory (absolute and layer-relative path). */
  onOpaqueDir?: (absDir: string, relDir: string) => Promise<void>;
  /** Most entries accepted (default 1,000,000). */
  maxEntries?: number;
  /** Most file data accepted, in bytes (default unlimited). */
  maxBytes?: number;
}

export interface ExtractResult {
  /** Entries created: files, directories, links, device nodes (not whiteouts). */
  files: number;
  /** Bytes of regular-file data written. */
  bytes: number;
  /** Whiteout devices created. */
  whiteouts: number;
  /** Layer-relative directories marked opaque ('' is the layer root). */
  opaqueDirs: string[];
  /** Entries not created, with the reason (devices when not root, unsupported types). */
  skipped: string[];
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const WRITE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/** Layer-relative path with `.` parts dropped; '' is the root. Refuses absolute and `..`. */
export function safeRelPath(name: string): string {
  if (name.includes('\0')) throw invalid(`layer: entry name contains NUL: ${JSON.stringify(name)}`);
  if (name.startsWith('/')) throw invalid(`layer: absolute path ${JSON.stringify(name)}`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(`layer: path traversal in ${JSON.stringify(name)}`);
  return parts.join('/');
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _out, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve()));
  });
}

export async function defaultMknod(path: string, kind: MknodKind, major: number, minor: number): Promise<void> {
  const args = kind === 'p' ? [path, 'p'] : [path, kind, String(major), String(minor)];
  try {
    await run('mknod', args);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
    await run('busybox', ['mknod', ...args]);
  }
}

async function* refuseCompressed(source: ByteSource): AsyncGenerator<Buffer> {
  const it = toChunks(source);
  let first = true;
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      if (first) {
        first = false;
        const b = r.value;
        if (b[0] === 0x1f && b[1] === 0x8b) throw invalid('layer: gzip-compressed; extractLayer takes an uncompressed tar');
        if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) throw invalid('layer: zstd-compressed; extractLayer takes an uncompressed tar');
      }
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

class Extractor {
  readonly result: ExtractResult = { files: 0, bytes: 0, whiteouts: 0, opaqueDirs: [], skipped: [] };
  /** Layer-relative directories known to be real directories (not symlinks). */
  private readonly dirs = new Set<string>(['']);
  private readonly dirMeta = new Map<string, DirMeta>();
  private readonly asRoot: boolean;
  private readonly mknod: NonNullable<ExtractOptions['mknod']>;

  constructor(
    private readonly root: string,
    private readonly opts: ExtractOptions,
  ) {
    this.asRoot = opts.asRoot ?? process.getuid?.() === 0;
    this.mknod = opts.mknod ?? defaultMknod;
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  private async lstatOrNull(abs: string): Promise<Stats | null> {
    try {
      return await lstat(abs);
    } catch (e) {
      if (errno(e) === 'ENOENT') return null;
      throw e;
    }
  }

  /** Makes sure every parent of `rel` is a real directory, creating missing ones. */
  private async ensureParents(rel: string, create: boolean, what: string): Promise<void> {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur === '' ? (parts[i] as string) : `${cur}/${parts[i]}`;
      if (this.dirs.has(cur)) continue;
      const st = await this.lstatOrNull(this.abs(cur));
      if (st === null) {
        if (!create) throw invalid(`layer: ${what} ${JSON.stringify(rel)} does not exist in the layer`);
        await mkdir(this.abs(cur));
        await chmod(this.abs(cur), 0o755); // not left to the umask
      } else if (st.isSymbolicLink()) {
        throw invalid(`layer: ${what} ${JSON.stringify(rel)} goes through the symlink ${JSON.stringify(cur)} (refused)`);
      } else if (!st.isDirectory()) {
        throw invalid(`layer: ${what} ${JSON.stringify(rel)}: ${JSON.stringify(cur)} is not a directory`);
      }
      this.dirs.add(cur);
    }
  }

  /** Clears the final path for a new entry; keeps an existing directory when a directory comes. */
  private async clear(rel: string, keepDir: boolean): Promise<'kept' | 'clear'> {
    const abs = this.abs(rel);
    const st = await this.lstatOrNull(abs);
    if (st === null) return 'clear';
    if (keepDir && st.isDirectory()) return 'kept';
    if (rel === '') throw invalid('layer: an entry tries to replace the layer root');
    await rm(abs, { recursive: true, force: true });
    for (const d of this.dirs) if (d === rel || d.startsWith(`${rel}/`)) this.dirs.delete(d);
    for (const d of this.dirMeta.keys()) if (d === rel || d.startsWith(`${rel}/`)) this.dirMeta.delete(d);
    return 'clear';
  }

  private async owner(abs: string, h: TarHeader, isLink: boolean): Promise<void> {
    if (!this.asRoot) return;
    await (isLink ? lchown : chown)(abs, h.uid, h.gid);
  }

  async entry(h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const rel = safeRelPath(h.name);
    const slash = rel.lastIndexOf('/');
    const base = rel.slice(slash + 1);
    const parent = slash < 0 ? '' : rel.slice(0, slash);
    if (base.startsWith(WH)) return this.whiteout(rel, parent, base);
    if (rel === '' && h.type !== 'directory') throw invalid(`layer: ${JSON.stringify(h.name)} names the layer root but is not a directory`);
    if (rel !== '') await this.ensureParents(rel, true, 'entry');
    const abs = this.abs(rel);
    switch (h.type) {
      case 'directory': {
        if ((await this.clear(rel, true)) === 'clear') await mkdir(abs, { mode: 0o700 });
        this.dirs.add(rel);
        this.dirMeta.set(rel, { mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime });
        break;
      }
      case 'file':
        await this.clear(rel, false);
        await this.file(abs, h, body);
        break;
      case 'symlink':
        await this.clear(rel, false);
        await symlink(h.linkname, abs);
        await this.owner(abs, h, true);
        await lutimes(abs, h.mtime, h.mtime);
        break;
      case 'hardlink': {
        const target = safeRelPath(h.linkname);
        if (target === rel) return;
        if (target === '') throw invalid(`layer: hard link ${JSON.stringify(h.name)} points at the layer root`);
        await this.ensureParents(target, false, 'hard link target');
        const st = await this.lstatOrNull(this.abs(target));
        if (st === null) throw invalid(`layer: hard link ${JSON.stringify(h.name)} points at ${JSON.stringify(h.linkname)}, which is not in the layer`);
        if (st.isDirectory()) throw invalid(`layer: hard link ${JSON.stringify(h.name)} points at a directory`);
        await this.clear(rel, false);
        await link(this.abs(target), abs);
        break;
      }
      case 'chardev':
      case 'blockdev':
      case 'fifo': {
        if (h.type !== 'fifo' && !this.asRoot) {
          this.result.skipped.push(`${rel} (device node needs root)`);
          return;
        }
        await this.clear(rel, false);
        await this.mknod(abs, h.type === 'fifo' ? 'p' : h.type === 'chardev' ? 'c' : 'b', h.devmajor, h.devminor);
        await this.owner(abs, h, false);
        await chmod(abs, h.mode);
        await utimes(abs, h.mtime, h.mtime);
        break;
      }
      default:
        this.result.skipped.push(`${rel} (unsupported tar type ${JSON.stringify(h.typeflag)})`);
        return;
    }
    this.result.files++;
  }

  private async file(abs: string, h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const max = this.opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
    if (this.result.bytes + h.size > max) throw invalid(`layer: file data exceeds the ${max}-byte limit`);
    const fh = await open(abs, WRITE_FLAGS, 0o600);
    try {
      for await (const chunk of body) {
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      }
      if (this.asRoot) await fh.chown(h.uid, h.gid);
      await fh.chmod(h.mode);
      await fh.utimes(h.mtime, h.mtime);
    } finally {
      await fh.close();
    }
    this.result.bytes += h.size;
  }

  private async whiteout(rel: string, parent: string, base: string): Promise<void> {
    await this.ensureParents(`${rel}`, true, 'whiteout');
    if (base === OPAQUE) {
      if (!this.result.opaqueDirs.includes(parent)) {
        this.result.opaqueDirs.push(parent);
        await this.opts.onOpaqueDir?.(this.abs(parent), parent);
      }
      return;
    }
    if (base.startsWith(`${WH}${WH}`)) return; // other aufs metadata (.wh..wh.plnk …)
    const name = base.slice(WH.length);
    if (name === '' || name === '.' || name === '..') throw invalid(`layer: malformed whiteout ${JSON.stringify(rel)}`);
    const target = parent === '' ? name : `${parent}/${name}`;
    // A real entry for the same name in this layer wins over its whiteout (OCI spec).
    if ((await this.lstatOrNull(this.abs(target))) !== null) return;
    if (!this.asRoot) {
      throw new ForkdError('ERR_CONFIG', `layer: whiteout ${JSON.stringify(target)} needs a 0/0 character device, which only root can create`);
    }
    await this.mknod(this.abs(target), 'c', 0, 0);
    this.result.whiteouts++;
  }

  /** Directory modes, owners and mtimes last, deepest first, so children do not disturb them. */
  async finish(): Promise<void> {
    const dirs = [...this.dirMeta.entries()].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, m] of dirs) {
      const abs = this.abs(rel);
      if (this.asRoot) await chown(abs, m.uid, m.gid);
      await chmod(abs, m.mode);
      await utimes(abs, m.mtime, m.mtime);
    }
  }
}

/**
 * Streams one uncompressed layer tar into `targetDir` (created if missing).
 * The source is read to its end (bytes after the tar's end marker, such as
 * record padding, are discarded), so a producer never blocks on a reader that
 * stopped early. Throws ERR_IMAGE_INVALID for hostile or corrupt input; what
 * was written so far stays, so callers extract into a fresh directory and
 * rename it into place on success.
 */
export async function extractLayer(
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  targetDir: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  await mkdir(targetDir, { recursive: true });
  const ex = new Extractor(targetDir, opts);
  const maxEntries = opts.maxEntries ?? 1_000_000;
  let n = 0;
  for await (const { header, body } of readTar(refuseCompressed(source), { atEnd: 'drain' })) {
    if (++n > maxEntries) throw invalid(`layer: more than ${maxEntries} entries`);
    await ex.entry(header, body);
  }
  await ex.finish();
  return ex.result;
}

/**
 * Gives an opaque directory its meaning without xattrs: whiteouts, in the
 * upper layer's copy of `relDir`, for every name that a lower layer has there
 * and the upper layer does not. `lowerDirs` are the layer directories below
 * `upperDir`. Idempotent; returns how many whiteouts it made.
 */
export async function opaqueToWhiteouts(
  upperDir: string,
  relDir: string,
  lowerDirs: readonly string[],
  mknod: ExtractOptions['mknod'] = defaultMknod,
): Promise<number> {
  const rel = safeRelPath(relDir);
  const upper = rel === '' ? upperDir : join(upperDir, rel);
  const own = new Set(await readdir(upper));
  let made = 0;
  for (const lower of lowerDirs) {
    let names: string[];
    try {
      names = await readdir(rel === '' ? lower : join(lower, rel));
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') continue;
      throw e;
    }
    for (const name of names) {
      if (own.has(name)) continue;
      await mknod(join(upper, name), 'c', 0, 0);
      own.add(name);
      made++;
    }
  }
  return made;
}
