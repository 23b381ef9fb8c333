// A sealed envelope: AES-256-GCM over a secret, in a versioned text form that
// fits a JSON job payload or a database column. The header (version and key id)
// is bound into the tag, so neither can be altered; `context` (what the secret
// belongs to, e.g. a container id) is bound too, so an envelope copied onto
// another row or job does not open there.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ForkdError } from '../errors.js';

/** Text form: `fks1.<key id>.<base64url(iv ‖ tag ‖ ciphertext)>`. A new format gets a new prefix. */
export const ENVELOPE_PREFIX = 'fks1';
export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A branded string: only seal() makes one, so a plain value cannot be passed where a sealed one is due. */
export type Sealed = string & { readonly __sealed: true };

/** A short, public fingerprint of a key: lets open() tell "sealed under another key" from "altered". */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('forkd secret key id\0').update(key).digest('hex').slice(0, 16);
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new ForkdError('ERR_INTERNAL', `a secret key has ${KEY_BYTES} bytes (got ${key.length})`);
}

function aad(header: string, context: string): Buffer {
  return Buffer.from(`${header}\n${context}`, 'utf8');
}

export function isSealed(value: unknown): value is Sealed {
  return typeof value === 'string' && value.startsWith(`${ENVELOPE_PREFIX}.`);
}

export function seal(key: Buffer, plaintext: Buffer | string, context: string): Sealed {
  checkKey(key);
  const header = `${ENVELOPE_PREFIX}.${keyId(key)}`;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(header, context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${header}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}` as Sealed;
}

/**
 * The plaintext, or ERR_SECRET_UNREADABLE: another key sealed it, the
 * envelope or its context differ from what was sealed, or it is not an
 * envelope. Messages never quote the envelope or the plaintext.
 */
export function open(key: Buffer, envelope: string, context: string): Buffer {
  checkKey(key);
  const parts = envelope.split('.');
  if (parts.length !== 3 || parts[0] !== ENVELOPE_PREFIX) {
    throw new ForkdError('ERR_SECRET_UNREADABLE', `not a sealed envelope (expected the ${ENVELOPE_PREFIX} format)`);
  }
  const [version, sealedBy, data] = parts as [string, string, string];
  if (sealedBy !== keyId(key)) {
    throw new ForkdError('ERR_SECRET_UNREADABLE', `sealed under key ${sealedBy}, this process has key ${keyId(key)}: API and hostd need the same FORKD_SECRET_KEY (or the same secret.key file)`, { detail: { sealedBy, keyId: keyId(key) } });
  }
  const raw = Buffer.from(data, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new ForkdError('ERR_SECRET_UNREADABLE', 'sealed envelope is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(`${version}.${sealedBy}`, context));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch (err) {
    throw new ForkdError('ERR_SECRET_UNREADABLE', 'sealed envelope failed its integrity check (altered, or sealed for something else)', { cause: err });
  }
}
