// Container images on the host: import (docker save, OCI layout), the store,
// the layer extractor and the image builders. The guest agent imports
// ./layer-extract.js directly (Node built-ins only); everything else is
// host-side.

export { buildBusyboxImage } from './builders/busybox.js';
export { writeImageArchive, type ArchiveOptions, type BuiltArchive, type ImageSpec } from './builders/image-writer.js';
export { buildRedisImage } from './builders/redis.js';
export { importImageArchive, importImageArchiveAll, type ImportOptions } from './image-import.js';
export { ImageStore, type ImageConfig, type StagedImage, type StoredImage, type StoredLayer } from './image-store.js';
export { extractLayer, opaqueToWhiteouts, type ExtractOptions, type ExtractResult } from './layer-extract.js';
export { normalizeRef, parseRef } from './refs.js';
export { readTar, type TarEntry } from './tar/reader.js';
export { writeTar, type TarInput } from './tar/writer.js';
