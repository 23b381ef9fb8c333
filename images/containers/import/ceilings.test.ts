import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../../services/contracts/errors.js';
import { ImageMeter, imageTooLarge, type LayerPosition } from './ceilings.js';

const limits = { maxUnpackedBytes: 1000, maxLayerFiles: 3, maxLayers: 2 };
const at = (index: number): LayerPosition => ({ source: 'img', index, count: 2, path: `l${index}.tar` });

function thrown(f: () => void): ForkdError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ForkdError);
    return e as ForkdError;
  }
  throw new Error('expected a throw');
}

describe('ImageMeter', () => {
  it('refuses more layers than the ceiling and accepts as many', () => {
    const m = new ImageMeter(limits, 'img');
    m.checkLayerCount(2);
    expect(thrown(() => m.checkLayerCount(3))).toMatchObject({ code: 'ERR_IMAGE_TOO_LARGE', field: 'body', detail: { limit: 'FORKD_IMAGE_MAX_LAYERS', max: 2 } });
  });

  it('counts bytes as they stream, over all layers, and stops at the one that crosses the ceiling', () => {
    const image = new ImageMeter(limits, 'img');
    const first = image.layer(at(1));
    for (let i = 0; i < 6; i++) first.addBytes(100);
    image.addLayer(at(1), first.unpackedBytes);
    expect(image.remaining).toBe(400);
    const second = image.layer(at(2));
    second.addBytes(400); // exactly at the ceiling: fine
    const e = thrown(() => second.addBytes(1));
    expect(e).toMatchObject({ code: 'ERR_IMAGE_TOO_LARGE', detail: { limit: 'FORKD_IMAGE_MAX_UNPACKED_BYTES', max: 1000, image: 'img', layer: 2, layerPath: 'l2.tar' } });
    expect(e.message).toMatch(/img: layer 2\/2 \(l2\.tar\) takes the image past 1000 unpacked bytes \(FORKD_IMAGE_MAX_UNPACKED_BYTES=1000\); nothing was stored/);
  });

  it('re-counts a layer met before (shared or repeated) against this image', () => {
    const image = new ImageMeter(limits, 'img');
    image.addLayer(at(1), 600);
    expect(thrown(() => image.addLayer(at(2), 600)).detail).toMatchObject({ layer: 2 });
    const other = new ImageMeter(limits, 'other');
    other.addLayer(at(1), 600);
    other.addLayer(at(2), 400);
    expect(other.remaining).toBe(0);
  });

  it('counts entries per layer: each layer starts from zero', () => {
    const image = new ImageMeter(limits, 'img');
    const first = image.layer(at(1));
    for (let i = 0; i < 3; i++) first.addEntry();
    expect(first.files).toBe(3);
    expect(thrown(() => first.addEntry())).toMatchObject({ detail: { limit: 'FORKD_LAYER_MAX_FILES', max: 3, layer: 1 } });
    const second = image.layer(at(2));
    for (let i = 0; i < 3; i++) second.addEntry();
    expect(second.files).toBe(3);
  });
});

describe('imageTooLarge', () => {
  it('is a 413 that names the body, the variable and its value', () => {
    const e = imageTooLarge('FORKD_LAYER_MAX_FILES', 5, 'too many');
    expect(e.status).toBe(413);
    expect(e.retryable).toBe(false);
    expect(e.toJSON()).toEqual({ error: { code: 'ERR_IMAGE_TOO_LARGE', message: 'too many (FORKD_LAYER_MAX_FILES=5); nothing was stored', field: 'body', detail: { limit: 'FORKD_LAYER_MAX_FILES', max: 5 } } });
  });
});
