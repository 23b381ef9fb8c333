import { describe, expect, it } from 'vitest';
import { apiHost, familiarTag, formatReference, parseReference } from './reference.js';

describe('parseReference', () => {
  it('fills in Docker Hub, library/ and latest as docker does', () => {
    expect(parseReference('busybox')).toEqual({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest', digest: undefined });
    expect(parseReference('team/app:1.2')).toMatchObject({ registry: 'docker.io', repository: 'team/app', tag: '1.2' });
    expect(parseReference('index.docker.io/library/busybox')).toMatchObject({ registry: 'docker.io', repository: 'library/busybox' });
    expect(apiHost(parseReference('busybox'))).toBe('registry-1.docker.io');
  });

  it('takes the first component as a registry when it has a dot, a port or is localhost', () => {
    expect(parseReference('127.0.0.1:5000/team/app:v1')).toMatchObject({ registry: '127.0.0.1:5000', repository: 'team/app', tag: 'v1' });
    expect(parseReference('localhost/app')).toMatchObject({ registry: 'localhost', repository: 'app', tag: 'latest' });
    expect(parseReference('registry.example/a/b/c')).toMatchObject({ registry: 'registry.example', repository: 'a/b/c' });
    expect(parseReference('team/app')).toMatchObject({ registry: 'docker.io' });
  });

  it('keeps a digest, with or without a tag', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseReference(`busybox@${d}`)).toMatchObject({ tag: undefined, digest: d });
    expect(parseReference(`busybox:1@${d}`)).toMatchObject({ tag: '1', digest: d });
    expect(familiarTag(parseReference(`busybox@${d}`))).toBeUndefined();
    expect(formatReference(parseReference(`localhost:5000/x:1@${d}`))).toBe(`localhost:5000/x:1@${d}`);
  });

  it('names the short familiar tag the store records', () => {
    expect(familiarTag(parseReference('docker.io/library/busybox'))).toBe('busybox:latest');
    expect(familiarTag(parseReference('127.0.0.1:5000/team/app:v1'))).toBe('127.0.0.1:5000/team/app:v1');
  });

  it.each([
    ['', /required/],
    ['Busybox', /path component "Busybox"/],
    ['busybox:', /tag ""/],
    ['busybox:-x', /tag "-x"/],
    ['busybox@sha256:abc', /digest "sha256:abc"/],
    ['busybox@md5:' + 'a'.repeat(32), /digest/],
    ['a//b', /path component ""/],
    ['bad_host.-x:5000/app', /registry host/],
    ['x'.repeat(600), /longer than 512/],
  ])('refuses %j naming what is wrong and the field', (ref, why) => {
    let err: any;
    try {
      parseReference(ref);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_VALIDATION', field: 'ref' });
    expect(err.message).toMatch(why);
  });
});
