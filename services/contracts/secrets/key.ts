// The key that seals container env: FORKD_SECRET_KEY when set (base64, 32
// bytes; required when the API and hostd run on different machines, as both
// must hold the same key), else `<data dir>/secret.key`, made on first start
// (0600) by whichever of API and hostd starts first and read by the other.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ForkdError } from '../errors.js';
import { KEY_BYTES } from './envelope.js';

/** FORKD_SECRET_KEY's value as a key, or ERR_CONFIG naming the variable. */
export function parseSecretKey(value: string, source = 'FORKD_SECRET_KEY'): Buffer {
  const trimmed = value.trim();
  const key = Buffer.from(trimmed, 'base64');
  // Buffer.from skips bad characters silently: a round trip proves the text was base64.
  if (key.length !== KEY_BYTES || key.toString('base64').replace(/=+$/, '') !== trimmed.replace(/=+$/, '')) {
    throw new ForkdError('ERR_CONFIG', `${source} must be ${KEY_BYTES} random bytes in base64 (make one with: openssl rand -base64 ${KEY_BYTES})`, { field: 'FORKD_SECRET_KEY' });
  }
  return key;
}

/**
 * `configured` (FORKD_SECRET_KEY, already parsed) wins; otherwise the key
 * file, made if absent. Made atomically (written aside, then linked into
 * place, which fails if another process got there first), so an API and a
 * hostd starting together agree on one key and never read a half-written file.
 */
export async function loadSecretKey(opts: { keyFile: string; configured: Buffer | undefined }): Promise<Buffer> {
  if (opts.configured) return opts.configured;
  const existing = await readKeyFile(opts.keyFile);
  if (existing) return existing;
  await mkdir(dirname(opts.keyFile), { recursive: true, mode: 0o700 });
  const aside = `${opts.keyFile}.${randomUUID()}.tmp`;
  await writeFile(aside, randomBytes(KEY_BYTES).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    await chmod(aside, 0o600); // the umask may have narrowed the mode, never widened it; say it once more
    await link(aside, opts.keyFile).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err; // lost the race: the other process's key is the key
    });
  } finally {
    await rm(aside, { force: true });
  }
  const made = await readKeyFile(opts.keyFile);
  if (!made) throw new ForkdError('ERR_CONFIG', `could not read the secret key file ${opts.keyFile} right after making it`, { field: 'FORKD_SECRET_KEY' });
  return made;
}

async function readKeyFile(path: string): Promise<Buffer | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ForkdError('ERR_CONFIG', `cannot read the secret key file ${path}: ${(err as Error).message}`, { field: 'FORKD_SECRET_KEY', cause: err });
  }
  return parseSecretKey(text, `the secret key file ${path}`);
}
