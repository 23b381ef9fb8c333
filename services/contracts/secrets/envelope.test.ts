import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ForkdError } from '../errors.js';
import { ENVELOPE_PREFIX, isSealed, keyId, open, seal } from './envelope.js';

const key = randomBytes(32);
const secret = 'API_TOKEN=s3cr3t-value';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof ForkdError ? err.code : 'not a ForkdError';
  }
}

/** The envelope with one base64url character of its body changed. */
function flipBodyChar(envelope: string, at: number): string {
  const i = envelope.lastIndexOf('.') + 1 + at;
  return envelope.slice(0, i) + (envelope[i] === 'A' ? 'B' : 'A') + envelope.slice(i + 1);
}

describe('seal / open', () => {
  it('round-trips, and the envelope holds neither the plaintext nor the key', () => {
    const env = seal(key, secret, 'container-env:c1');
    expect(open(key, env, 'container-env:c1').toString()).toBe(secret);
    expect(env.startsWith(`${ENVELOPE_PREFIX}.${keyId(key)}.`)).toBe(true);
    expect(env).not.toContain('s3cr3t');
    expect(env).not.toContain(Buffer.from(secret).toString('base64'));
    expect(env).not.toContain(key.toString('base64'));
    expect(isSealed(env)).toBe(true);
    expect(isSealed(['API_TOKEN=s3cr3t-value'])).toBe(false);
  });

  it('seals the same plaintext differently each time (fresh IV)', () => {
    expect(seal(key, secret, 'x')).not.toBe(seal(key, secret, 'x'));
  });

  it('refuses an altered ciphertext, IV or tag (and opens the original)', () => {
    const env = seal(key, secret, 'ctx');
    expect(open(key, env, 'ctx').toString()).toBe(secret);
    // IV starts the body, the tag follows at 12 bytes (16 base64 chars), ciphertext after 28 bytes.
    for (const at of [0, 17, 40]) expect(codeOf(() => open(key, flipBodyChar(env, at), 'ctx'))).toBe('ERR_SECRET_UNREADABLE');
  });

  it('refuses a truncated envelope or something that is not one', () => {
    const env = seal(key, secret, 'ctx');
    expect(open(key, env, 'ctx').toString()).toBe(secret);
    expect(codeOf(() => open(key, env.slice(0, env.lastIndexOf('.') + 10), 'ctx'))).toBe('ERR_SECRET_UNREADABLE');
    expect(codeOf(() => open(key, 'API_TOKEN=s3cr3t', 'ctx'))).toBe('ERR_SECRET_UNREADABLE');
    expect(codeOf(() => open(key, env.replace(/^fks1/, 'fks9'), 'ctx'))).toBe('ERR_SECRET_UNREADABLE');
  });

  it('refuses a wrong key, naming both key ids and never the secret', () => {
    const other = randomBytes(32);
    const env = seal(key, secret, 'ctx');
    expect(open(key, env, 'ctx').toString()).toBe(secret);
    let err: unknown;
    try { open(other, env, 'ctx'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ForkdError);
    expect((err as ForkdError).code).toBe('ERR_SECRET_UNREADABLE');
    expect((err as ForkdError).message).toContain(keyId(key));
    expect((err as ForkdError).message).toContain(keyId(other));
    expect(JSON.stringify((err as ForkdError).toJSON())).not.toContain('s3cr3t');
  });

  it('refuses a wrong key even when the key id in the header is forged to match', () => {
    const other = randomBytes(32);
    const env = seal(key, secret, 'ctx');
    const forged = env.replace(keyId(key), keyId(other));
    expect(open(key, env, 'ctx').toString()).toBe(secret);
    expect(codeOf(() => open(other, forged, 'ctx'))).toBe('ERR_SECRET_UNREADABLE');
  });

  it('binds the context: an envelope copied to another container does not open there', () => {
    const env = seal(key, secret, 'container-env:c1');
    expect(open(key, env, 'container-env:c1').toString()).toBe(secret);
    expect(codeOf(() => open(key, env, 'container-env:c2'))).toBe('ERR_SECRET_UNREADABLE');
  });

  it('refuses a key of the wrong length', () => {
    expect(seal(randomBytes(32), secret, 'x')).toMatch(/^fks1\./);
    expect(codeOf(() => seal(randomBytes(16), secret, 'x'))).toBe('ERR_INTERNAL');
  });
});
