// Resource ceilings on one imported image, counted on what actually streams out
// of the decompressor and the tar parser, never on a size or count an archive,
// manifest or tar header claims: a gzip layer of a few hundred KiB can unpack to
// many GiB, and a tar header may say anything. Each meter throws the moment a
// count passes its ceiling, so the import stops there; the importer works in a
// tmp directory it removes, so nothing of a refused image is stored.
//
// The limits come from the configuration (FORKD_IMAGE_MAX_UNPACKED_BYTES,
// FORKD_LAYER_MAX_FILES, FORKD_IMAGE_MAX_LAYERS; services/contracts/config.ts).

import type { ImageLimits } from '../../../services/contracts/config.js';
import { ForkdError } from '../../../services/contracts/errors.js';

export type ImageLimitName = 'FORKD_IMAGE_MAX_UNPACKED_BYTES' | 'FORKD_LAYER_MAX_FILES' | 'FORKD_IMAGE_MAX_LAYERS';

/** Which layer of which image, for messages and the error's detail. */
export interface LayerPosition {
  /** The image, as the importer names it (`docker save manifest.json[0]`, an OCI manifest digest). */
  source: string;
  /** 1-based, bottom layer first. */
  index: number;
  count: number;
  /** The layer's path inside the archive. */
  path: string;
}

export function describeLayer(at: LayerPosition): string {
  return `${at.source}: layer ${at.index}/${at.count} (${at.path})`;
}

/** The one error every ceiling throws: the variable, its value and the layer, for the client to act on. */
export function imageTooLarge(limit: ImageLimitName, max: number, message: string, at?: LayerPosition): ForkdError {
  return new ForkdError('ERR_IMAGE_TOO_LARGE', `${message} (${limit}=${max}); nothing was stored`, {
    field: 'body',
    detail: { limit, max, ...(at === undefined ? {} : { image: at.source, layer: at.index, layerPath: at.path }) },
  });
}

/** Counts one image's unpacked bytes over all its layers, and its layers. */
export class ImageMeter {
  private unpacked = 0;

  constructor(
    private readonly limits: ImageLimits,
    private readonly source: string,
  ) {}

  /** Refuses an image with more layers than the ceiling, before any is read. */
  checkLayerCount(count: number): void {
    if (count > this.limits.maxLayers) {
      throw imageTooLarge('FORKD_IMAGE_MAX_LAYERS', this.limits.maxLayers, `${this.source}: ${count} layers, more than the ceiling of ${this.limits.maxLayers}`);
    }
  }

  /** Bytes this image may still unpack to. */
  get remaining(): number {
    return this.limits.maxUnpackedBytes - this.unpacked;
  }

  /** A meter for the next layer, whose bytes count against what the image has left. */
  layer(at: LayerPosition): LayerMeter {
    return new LayerMeter(this.limits, at, this.unpacked);
  }

  /** Adds a finished layer's bytes (also a layer met before, shared or repeated, whose bytes this image holds again). */
  addLayer(at: LayerPosition, bytes: number): void {
    this.layer(at).addBytes(bytes);
    this.unpacked += bytes;
  }
}

/** Counts one layer's unpacked bytes (against the image's total) and its tar entries, as they stream. */
export class LayerMeter {
  private bytes = 0;
  private entries = 0;

  constructor(
    private readonly limits: ImageLimits,
    readonly at: LayerPosition,
    /** What the image's layers below this one unpacked to. */
    private readonly below: number,
  ) {}

  get unpackedBytes(): number {
    return this.bytes;
  }

  get files(): number {
    return this.entries;
  }

  addBytes(n: number): void {
    this.bytes += n;
    const max = this.limits.maxUnpackedBytes;
    if (this.below + this.bytes > max) {
      throw imageTooLarge('FORKD_IMAGE_MAX_UNPACKED_BYTES', max, `${describeLayer(this.at)} takes the image past ${max} unpacked bytes`, this.at);
    }
  }

  /** One tar entry: a file, directory, link, device or whiteout; each becomes an inode in the guest. */
  addEntry(): void {
    this.entries++;
    const max = this.limits.maxLayerFiles;
    if (this.entries > max) throw imageTooLarge('FORKD_LAYER_MAX_FILES', max, `${describeLayer(this.at)} has more than ${max} files`, this.at);
  }
}
