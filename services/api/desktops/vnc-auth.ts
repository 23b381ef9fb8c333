// The VNC password and the VncAuth answer. Node 20's OpenSSL refuses DES, so
// the DES is noVNC's own (pure JS, already a dependency: the page uses it),
// loaded from the package directory the page is served from.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** VncAuth keys on the first 8 bytes of the password: longer ones add nothing. */
export const VNC_PASSWORD_LENGTH = 8;
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_';

/** 8 characters from a 58-letter alphabet: about 47 bits, all VncAuth can use. */
export function newVncPassword(rng: (n: number) => Buffer = randomBytes): string {
  let out = '';
  while (out.length < VNC_PASSWORD_LENGTH) {
    for (const b of rng(16)) {
      // Rejection sampling keeps every letter equally likely.
      if (b < 256 - (256 % ALPHABET.length) && out.length < VNC_PASSWORD_LENGTH) out += ALPHABET[b % ALPHABET.length];
    }
  }
  return out;
}

/** Where @novnc/novnc is installed (its package.json's directory); the page's static files come from here too. */
export function novncDir(): string {
  const require = createRequire(import.meta.url);
  // The package exports only core/rfb.js (its package.json is not importable).
  return dirname(dirname(require.resolve('@novnc/novnc')));
}

type DesCipher = { encrypt(alg: unknown, data: Uint8Array): Uint8Array };
let desModule: Promise<{ DESECBCipher: { importKey(key: number[]): DesCipher } }> | undefined;

/** The 16-byte answer to a VncAuth challenge, as noVNC's RFB.genDES computes it. */
export async function vncAuthResponse(password: string, challenge: Buffer): Promise<Buffer> {
  desModule ??= import(pathToFileURL(join(novncDir(), 'core/crypto/des.js')).href) as never;
  const { DESECBCipher } = await desModule;
  const key = [...password.slice(0, VNC_PASSWORD_LENGTH)].map((c) => c.charCodeAt(0));
  while (key.length < VNC_PASSWORD_LENGTH) key.push(0);
  return Buffer.from(DESECBCipher.importKey(key).encrypt({ name: 'DES-ECB' }, new Uint8Array(challenge)));
}
