// The content hash that names a guest image: sha256 over every input's bytes
// (files by content, never by path or mtime) and the builder's own texts.
//
// Hashing ~130 MB of inputs (node alone is ~100 MB) costs about half a second,
// so a file's digest is remembered in a small memo file keyed by what changes
// whenever its bytes can have changed: device, inode, size, mtime and ctime
// (ctime cannot be set back from user space). A miss just hashes again.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type HashInput =
  | { role: string; file: string }
  | { role: string; text: string };

export interface HashedInput {
  role: string;
  /** The host file, for `file` inputs. */
  file?: string;
  sha256: string;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

export function sha256Text(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

type Memo = Record<string, { key: string; sha256: string }>;

async function fileKey(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

async function readMemo(memoFile: string | undefined): Promise<Memo> {
  if (memoFile === undefined) return {};
  try {
    return JSON.parse(await readFile(memoFile, 'utf8')) as Memo;
  } catch {
    return {};
  }
}

async function writeMemo(memoFile: string, memo: Memo): Promise<void> {
  await mkdir(dirname(memoFile), { recursive: true });
  const tmp = `${memoFile}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(memo));
  await rename(tmp, memoFile);
}

/**
 * Hashes each input and combines them, sorted by role, into one id. Roles must
 * be unique: they say what the input is (`kernel`, `lib:/lib/x86_64-linux-gnu/libc.so.6`),
 * so moving a file to another role changes the id even if its bytes do not.
 * `memoFile` (optional) remembers file digests between calls, see above.
 */
export async function contentId(inputs: readonly HashInput[], opts: { length?: number; memoFile?: string } = {}): Promise<{ id: string; inputs: HashedInput[] }> {
  const roles = new Set<string>();
  for (const i of inputs) {
    if (roles.has(i.role)) throw new Error(`duplicate hash input role ${i.role}`);
    roles.add(i.role);
  }
  const memo = await readMemo(opts.memoFile);
  let memoChanged = false;
  const hashed = await Promise.all(
    inputs.map(async (i): Promise<HashedInput> => {
      if (!('file' in i)) return { role: i.role, sha256: sha256Text(i.text) };
      const key = await fileKey(i.file);
      const known = memo[i.file];
      if (known !== undefined && known.key === key) return { role: i.role, file: i.file, sha256: known.sha256 };
      const sha256 = await sha256File(i.file);
      // Only remember the digest if the file did not change while we read it.
      if ((await fileKey(i.file)) === key) {
        memo[i.file] = { key, sha256 };
        memoChanged = true;
      }
      return { role: i.role, file: i.file, sha256 };
    }),
  );
  if (memoChanged && opts.memoFile !== undefined) await writeMemo(opts.memoFile, memo);
  hashed.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
  const all = createHash('sha256');
  for (const h of hashed) all.update(`${h.role}\0${h.sha256}\n`);
  return { id: all.digest('hex').slice(0, opts.length ?? 16), inputs: hashed };
}
