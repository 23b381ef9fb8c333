// API keys: shown to their owner once, stored only as a SHA-256 hash. A key is
// `fkd_<prefix>_<secret>`; the prefix identifies it in listings and logs
// without revealing it.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

export type Role = 'admin' | 'tenant';

export interface Principal {
  keyId: string;
  role: Role;
  tenantId: string | null;
}

export interface NewApiKey {
  key: string;
  prefix: string;
  hash: string;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomToken(length: number): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  // Rejection sampling keeps every character equally likely.
  for (const b of bytes) {
    if (b < 248) out += ALPHABET[b % 62];
    if (out.length === length) return out;
  }
  return out + randomToken(length - out.length);
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): NewApiKey {
  const prefix = randomToken(8);
  const key = `fkd_${prefix}_${randomToken(32)}`;
  return { key, prefix, hash: hashApiKey(key) };
}

/** The bearer token of an `Authorization` header, or null when absent or malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/** Writes the key with mode 0600, refusing to overwrite an existing file. */
export async function writeKeyFile(path: string, key: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(key + '\n');
  } finally {
    await fh.close();
  }
}

export function keyFileExists(path: string): boolean {
  return existsSync(path);
}
