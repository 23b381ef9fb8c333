import { describe, expect, it } from 'vitest';
import { compareVersions, parseVersionedPath } from './versions.js';

describe('versioned paths', () => {
  it('strips a version in range and keeps the query', () => {
    expect(parseVersionedPath('/v1.44/containers/json?all=1')).toEqual({ ok: true, version: '1.44', path: '/containers/json?all=1' });
    expect(parseVersionedPath('/v1.24/_ping')).toEqual({ ok: true, version: '1.24', path: '/_ping' });
    expect(parseVersionedPath('/v1.50/version')).toEqual({ ok: true, version: '1.50', path: '/version' });
  });

  it('leaves unprefixed paths as they are', () => {
    expect(parseVersionedPath('/containers/json')).toEqual({ ok: true, version: null, path: '/containers/json' });
    expect(parseVersionedPath('/volumes/v1.2')).toEqual({ ok: true, version: null, path: '/volumes/v1.2' });
  });

  it('refuses versions out of range in the daemon\'s words', () => {
    const old = parseVersionedPath('/v1.12/version');
    expect(old).toMatchObject({ ok: false, version: '1.12' });
    expect(!old.ok && old.message).toBe('client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version');
    const young = parseVersionedPath('/v1.51/info');
    expect(!young.ok && young.message).toBe('client version 1.51 is too new. Maximum supported API version is 1.50');
  });

  it('compares versions as numbers, not strings', () => {
    expect(compareVersions('1.9', '1.24')).toBeLessThan(0);
    expect(compareVersions('1.50', '1.50')).toBe(0);
    expect(compareVersions('2.0', '1.50')).toBeGreaterThan(0);
  });
});
