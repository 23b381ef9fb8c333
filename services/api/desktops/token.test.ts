import { describe, expect, it } from 'vitest';
import { mintToken, tokenMatches } from './token.js';

describe('desktop browser tokens', () => {
  const now = new Date('2026-12-01T00:00:00Z');
  const minted = mintToken(300, now);
  const stored = { tokenHash: minted.hash, tokenExpiresAt: minted.expiresAt };

  it('open the desktop they were minted for until they expire', () => {
    expect(tokenMatches(minted.token, stored, now)).toBe(true);
    expect(minted.expiresAt.toISOString()).toBe('2026-12-01T00:05:00.000Z');
  });

  it('are kept only as a hash', () => {
    expect(minted.hash).not.toContain(minted.token);
    expect(minted.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuse a wrong, missing, expired or revoked token', () => {
    expect(tokenMatches(mintToken(300, now).token, stored, now)).toBe(false);
    expect(tokenMatches(undefined, stored, now)).toBe(false);
    expect(tokenMatches('', stored, now)).toBe(false);
    expect(tokenMatches(minted.token, stored, new Date(now.getTime() + 300_000))).toBe(false);
    expect(tokenMatches(minted.token, { tokenHash: null, tokenExpiresAt: null }, now)).toBe(false);
  });
});
