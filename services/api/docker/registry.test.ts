import { describe, expect, it } from 'vitest';
import { isLoopbackRegistry, pullMessages, pushMessages, registryAuthHeader } from './registry.js';

const digest = `sha256:${'cd'.repeat(32)}`;
const layer = { kind: 'layer' as const, layer: 1, count: 2, digest, total: 100 };

describe('Docker progress messages', () => {
  it('maps pull steps to what dockerd says, with a progress bar while downloading', () => {
    expect(pullMessages({ ...layer, status: 'exists' }, 'x')).toEqual([{ status: 'Already exists', progressDetail: {}, id: 'cdcdcdcdcdcd' }]);
    const [dl] = pullMessages({ ...layer, status: 'downloading', current: 50 }, 'x') as Array<{ status: string; progressDetail: object; progress: string }>;
    expect(dl).toMatchObject({ status: 'Downloading', progressDetail: { current: 50, total: 100 } });
    expect(dl!.progress).toMatch(/^\[=+> +\] 50\/100$/);
    expect(pullMessages({ ...layer, status: 'verified' }, 'x')).toEqual([{ status: 'Pull complete', progressDetail: {}, id: 'cdcdcdcdcdcd' }]);
    expect(pullMessages({ kind: 'resolved', ref: 'h:5000/a/b:1', manifestDigest: digest, layers: 2 }, 'h:5000/a/b')).toEqual([{ status: 'Pulling from h:5000/a/b', id: '1' }]);
  });

  it('maps push steps', () => {
    expect(pushMessages({ ...layer, status: 'exists' })).toEqual([{ status: 'Layer already exists', progressDetail: {}, id: 'cdcdcdcdcdcd' }]);
    expect(pushMessages({ ...layer, status: 'pushed' })).toEqual([{ status: 'Pushed', progressDetail: {}, id: 'cdcdcdcdcdcd' }]);
  });
});

describe('registryAuthHeader', () => {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  it('reads a user and password from base64 (or base64url) JSON', () => {
    expect(registryAuthHeader(enc({ username: 'u', password: 'p?>', serveraddress: 'h' }))).toEqual({ username: 'u', password: 'p?>' });
    expect(registryAuthHeader(Buffer.from('{"username":"u","password":"p?>"}').toString('base64'))).toEqual({ username: 'u', password: 'p?>' });
  });
  it('treats an empty, partial or unreadable header as none', () => {
    expect(registryAuthHeader(undefined)).toBeUndefined();
    expect(registryAuthHeader('e30=')).toBeUndefined();
    expect(registryAuthHeader(enc({ username: 'u' }))).toBeUndefined();
    expect(registryAuthHeader('%%%')).toBeUndefined();
  });
});

describe('isLoopbackRegistry', () => {
  it('is true for 127.0.0.0/8, localhost and [::1], with or without a port, as dockerd\'s default insecure range', () => {
    for (const h of ['127.0.0.1:5000', '127.1.2.3', 'localhost:5000', '[::1]:5000']) expect(isLoopbackRegistry(h)).toBe(true);
    for (const h of ['docker.io', '10.0.0.1:5000', 'registry.example', '127.example.com']) expect(isLoopbackRegistry(h)).toBe(false);
  });
});
