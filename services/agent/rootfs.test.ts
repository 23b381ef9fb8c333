import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IMAGE_MAX_LAYERS_CEILING } from '../contracts/config.js';
import { statePaths } from './config.js';
import { overlayOptions } from './rootfs.js';

// FORKD_IMAGE_MAX_LAYERS may go up to IMAGE_MAX_LAYERS_CEILING because that many
// layers still fit the one overlay mount the agent makes, even for the longest
// container id: an image the API imports can always be mounted.
describe('overlayOptions and the layer ceiling', () => {
  const dir = join(statePaths('/var/lib/forkd').containers, 'c'.repeat(64)); // ContainerId's longest
  const layers = (n: number): string[] => Array.from({ length: n }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`);

  it('mounts as many layers as the ceiling allows, and refuses one more', () => {
    expect(() => overlayOptions(layers(IMAGE_MAX_LAYERS_CEILING), join(dir, 'upper'), join(dir, 'work'))).not.toThrow();
    expect(() => overlayOptions(layers(IMAGE_MAX_LAYERS_CEILING + 1), join(dir, 'upper'), join(dir, 'work'))).toThrow(/too many layers/);
  });
});
