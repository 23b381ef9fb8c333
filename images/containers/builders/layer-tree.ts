// Collects one layer's files from the host and writes them as a deterministic
// tar: entries sorted by path, parents before children, owner 0:0 and one
// fixed mtime, so the same inputs always give the same diffId.

import { lstat, readFile, readlink, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { writeTar, type TarInput } from '../tar/writer.js';

/** 2024-01-01T00:00:00Z: every builder's mtime and `created`. */
export const BUILD_EPOCH = 1_704_067_200;
export const BUILD_CREATED = new Date(BUILD_EPOCH * 1000).toISOString().replace('.000Z', 'Z');

type Node =
  | { kind: 'dir'; mode: number }
  | { kind: 'file'; mode: number; data: Buffer }
  | { kind: 'symlink'; target: string };

function rel(path: string): string {
  const p = posix.normalize(`/${path}`).slice(1).replace(/\/$/, '');
  if (p === '' || p.startsWith('..')) throw new Error(`bad layer path ${path}`);
  return p;
}

export class LayerTree {
  private readonly nodes = new Map<string, Node>();

  dir(path: string, mode = 0o755): this {
    this.nodes.set(rel(path), { kind: 'dir', mode });
    return this;
  }

  data(path: string, data: Buffer | string, mode = 0o644): this {
    this.nodes.set(rel(path), { kind: 'file', mode, data: Buffer.isBuffer(data) ? data : Buffer.from(data) });
    return this;
  }

  symlink(path: string, target: string): this {
    this.nodes.set(rel(path), { kind: 'symlink', target });
    return this;
  }

  /** Copies a host file's content (following symlinks) to `path`, keeping its permission bits. */
  async hostFile(hostPath: string, path: string = hostPath): Promise<this> {
    const real = await realpath(hostPath);
    const st = await lstat(real);
    return this.data(path, await readFile(real), st.mode & 0o777);
  }

  /**
   * Mirrors a host path: every symlink on the way (such as /lib → usr/lib)
   * becomes the same symlink in the layer, and the file itself lands at its
   * real location, so nothing in the layer is written through a symlink.
   */
  async hostPath(hostPath: string): Promise<this> {
    let cur = '/';
    const parts = rel(hostPath).split('/');
    for (let i = 0; i < parts.length; i++) {
      const next = posix.join(cur, parts[i] as string);
      const st = await lstat(next);
      if (st.isSymbolicLink()) {
        const target = await readlink(next);
        this.symlink(next, target);
        const rest = parts.slice(i + 1).join('/');
        const resolved = posix.resolve(posix.dirname(next), target);
        return this.hostPath(rest === '' ? resolved : posix.join(resolved, rest));
      }
      cur = next;
    }
    return this.hostFile(cur);
  }

  /** The layer as an uncompressed tar. */
  async tar(): Promise<Buffer> {
    const paths = new Set<string>();
    for (const p of this.nodes.keys()) {
      const parts = p.split('/');
      for (let i = 1; i <= parts.length; i++) paths.add(parts.slice(0, i).join('/'));
    }
    const entries: TarInput[] = [...paths].sort().map((p) => {
      const n = this.nodes.get(p) ?? { kind: 'dir', mode: 0o755 };
      const common = { uid: 0, gid: 0, mtime: BUILD_EPOCH, uname: 'root', gname: 'root' };
      if (n.kind === 'dir') return { ...common, name: `${p}/`, type: 'directory', mode: n.mode };
      if (n.kind === 'symlink') return { ...common, name: p, type: 'symlink', mode: 0o777, linkname: n.target };
      return { ...common, name: p, type: 'file', mode: n.mode, body: n.data };
    });
    const parts: Buffer[] = [];
    for await (const chunk of writeTar(entries)) parts.push(chunk);
    return Buffer.concat(parts);
  }
}
