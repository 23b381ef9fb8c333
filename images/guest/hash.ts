// The content hash that names a guest image: sha256 over every input's bytes
// (files by content, never by path or mtime) and the builder's own texts.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

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

/**
 * Hashes each input and combines them, sorted by role, into one id. Roles must
 * be unique: they say what the input is (`kernel`, `lib:/lib/x86_64-linux-gnu/libc.so.6`),
 * so moving a file to another role changes the id even if its bytes do not.
 */
export async function contentId(inputs: readonly HashInput[], length = 16): Promise<{ id: string; inputs: HashedInput[] }> {
  const seen = new Set<string>();
  const hashed = await Promise.all(
    inputs.map(async (i): Promise<HashedInput> => {
      if (seen.has(i.role)) throw new Error(`duplicate hash input role ${i.role}`);
      seen.add(i.role);
      return 'file' in i ? { role: i.role, file: i.file, sha256: await sha256File(i.file) } : { role: i.role, sha256: sha256Text(i.text) };
    }),
  );
  hashed.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
  const all = createHash('sha256');
  for (const h of hashed) all.update(`${h.role}\0${h.sha256}\n`);
  return { id: all.digest('hex').slice(0, length), inputs: hashed };
}
