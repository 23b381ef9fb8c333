import { describe, expect, it } from 'vitest';
import { parseChallenges } from './challenge.js';

describe('parseChallenges', () => {
  it('reads a Bearer challenge as Docker Hub sends it', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
  });

  it('reads Basic, bare tokens, escapes and several challenges in one header', () => {
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseChallenges('Bearer realm=https://t.example/token, scope="a\\"b"')[0]?.params).toEqual({ realm: 'https://t.example/token', scope: 'a"b' });
    expect(parseChallenges('Basic realm="x", Bearer realm="https://t/token",service="s"').map((c) => c.scheme)).toEqual(['basic', 'bearer']);
  });

  it('gives nothing for no header or junk', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('   ')).toEqual([]);
    expect(parseChallenges('"quoted"')).toEqual([]);
  });
});
