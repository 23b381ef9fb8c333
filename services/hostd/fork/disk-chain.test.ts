// A fork point's disk chain stays bounded: past MAX_FORK_LAYERS fork-point
// layers it is rebased onto the template's disk; within it, left alone.
import { describe, expect, it } from 'vitest';
import { flattenTarget, isForkPointLayer } from './disk-chain.js';

const fp = (n: number) => `/data/templates/fp-${n}/disk.qcow2`;
const template = '/data/templates/busybox-256/disk.qcow2';
const image = '/data/images/guest/root.qcow2';

describe('flattenTarget', () => {
  it('knows fork-point layers by their directory', () => {
    expect(isForkPointLayer(fp(1), 'fp-')).toBe(true);
    expect(isForkPointLayer(template, 'fp-')).toBe(false);
  });

  it('leaves chains of up to the bound alone (the control)', () => {
    expect(flattenTarget([template, image], 'fp-', 2)).toBeNull();
    expect(flattenTarget([fp(2), fp(1), template, image], 'fp-', 2)).toBeNull();
  });

  it('rebases one layer past the bound onto the template, not the image', () => {
    expect(flattenTarget([fp(3), fp(2), fp(1), template, image], 'fp-', 2)).toBe(template);
  });

  it('never rebases onto nothing: a chain of fork points only is left alone', () => {
    expect(flattenTarget([fp(3), fp(2), fp(1)], 'fp-', 2)).toBeNull();
  });
});
