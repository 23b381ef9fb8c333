// The archive formats importImageArchive understands, tried in order. docker
// save >= 25 writes both layouts; its manifest.json carries the tags, so it goes
// first. A new format is one module implementing ImageFormat, added here.

import { dockerSave } from './docker-save.js';
import type { ImageFormat } from './formats.js';
import { ociLayout } from './oci-layout.js';

export const FORMATS: readonly ImageFormat[] = [dockerSave, ociLayout];
