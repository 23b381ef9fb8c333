// Helpers for the image tests: small layers, archives in every supported
// shape, and a snapshot of a store's files to prove a failed import left it
// untouched.

import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTar, type TarInput } from './tar/writer.js';

export async function tarBuffer(entries: TarInput[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of writeTar(entries)) parts.push(c);
  return Buffer.concat(parts);
}

/** A small layer with one file whose content is `seed`. */
export function smallLayer(seed: string, extra: TarInput[] = []): Promise<Buffer> {
  return tarBuffer([
    { name: 'etc/', type: 'directory', mtime: 1 },
    { name: `etc/${seed.replace(/[^a-z0-9]/gi, '_')}`, type: 'file', body: Buffer.from(`${seed}\n`), mtime: 1 },
    ...extra,
  ]);
}

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Every file under `dir` with its size: equal snapshots mean nothing changed. */
export async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const p = join(d, n);
      const st = await stat(p);
      if (st.isDirectory()) {
        out.push(`${p}/`);
        await walk(p);
      } else out.push(`${p} ${st.size}`);
    }
  };
  await walk(dir);
  return out;
}
