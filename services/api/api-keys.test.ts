import { describe, expect, it } from 'vitest';
import { bearerToken, generateApiKey, hashApiKey } from './api-keys.js';

describe('API keys', () => {
  it('are fkd_<prefix>_<secret> and hash to what is stored', () => {
    const k = generateApiKey();
    expect(k.key).toMatch(/^fkd_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}$/);
    expect(k.key.startsWith(`fkd_${k.prefix}_`)).toBe(true);
    expect(hashApiKey(k.key)).toBe(k.hash);
    expect(k.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('never repeat', () => {
    const keys = new Set(Array.from({ length: 200 }, () => generateApiKey().key));
    expect(keys.size).toBe(200);
  });

  it('are read from a Bearer header only', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});
