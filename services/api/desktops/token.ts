// Browser tokens: random, shown once, stored only as a sha256, one live token
// per desktop (minting another replaces it), expiring after
// FORKD_DESKTOP_TOKEN_TTL_SEC. Random rather than signed so that removing the
// desktop or minting anew revokes at once.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface MintedToken {
  token: string;
  hash: string;
  expiresAt: Date;
}

export function mintToken(ttlSec: number, now = new Date()): MintedToken {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token), expiresAt: new Date(now.getTime() + ttlSec * 1000) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether `token` is the stored one and still live. */
export function tokenMatches(token: string | undefined, stored: { tokenHash: string | null; tokenExpiresAt: Date | null }, now = new Date()): boolean {
  if (!token || !stored.tokenHash || !stored.tokenExpiresAt) return false;
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(stored.tokenHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b) && stored.tokenExpiresAt.getTime() > now.getTime();
}
