import { describe, expect, it } from 'vitest';
import { parseVolumeFlag } from './volume-flag.js';

describe('forkd run -v', () => {
  it('reads NAME:/path, with :ro or :rw', () => {
    expect(parseVolumeFlag('data:/data')).toEqual({ volume: 'data', path: '/data', readOnly: false });
    expect(parseVolumeFlag('data:/data:ro')).toEqual({ volume: 'data', path: '/data', readOnly: true });
    expect(parseVolumeFlag('data:/data:rw')).toEqual({ volume: 'data', path: '/data', readOnly: false });
  });

  it('refuses host paths, relative container paths and unknown modes', () => {
    for (const bad of ['/host:/data', './x:/data', 'data', 'data:rel', 'data:/d:z', ':/d', 'a:/b:ro:x']) {
      expect(() => parseVolumeFlag(bad), bad).toThrow();
    }
  });
});
