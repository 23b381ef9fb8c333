import { describe, expect, it } from 'vitest';
import { formatProgress } from './registry.js';

const digest = `sha256:${'ab'.repeat(32)}`;

describe('formatProgress', () => {
  it('names the layer, its short digest, the step and the size', () => {
    expect(formatProgress({ kind: 'layer', layer: 2, count: 3, digest, status: 'downloading', current: 2 ** 20, total: 4 * 2 ** 20 })).toBe('layer 2/3 abababababab: downloading [=====               ] 25% of 4.0 MiB');
    expect(formatProgress({ kind: 'layer', layer: 1, count: 3, digest, status: 'exists', total: 10 })).toBe('layer 1/3 abababababab: already present');
    expect(formatProgress({ kind: 'layer', layer: 3, count: 3, digest, status: 'verified', total: 2 ** 21 })).toBe('layer 3/3 abababababab: verified 2.0 MiB');
  });

  it('says what was resolved, and nothing for lines without progress', () => {
    expect(formatProgress({ kind: 'resolved', ref: 'r/x:1', layers: 2, manifestDigest: digest })).toBe(`r/x:1: 2 layer(s), manifest ${digest}`);
    expect(formatProgress({ kind: 'done' })).toBeUndefined();
  });
});
