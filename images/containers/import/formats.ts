// What an archive format provides: it recognises its archive and lists the
// images in it as candidates (config and layer paths with the digests the
// archive claims). image-import.ts verifies every candidate the same way; the
// list of formats is in registry.ts.

import type { ArchiveFs } from './archive-fs.js';

export interface LayerRef {
  /** Path inside the archive. */
  path: string;
  /** Digest of the blob as stored (compressed or not), when the archive states one. */
  digest?: string;
  size?: number;
}

export interface ImageCandidate {
  /** Where it came from, for error messages. */
  source: string;
  configPath: string;
  configDigest?: string;
  configSize?: number;
  repoTags: string[];
  layers: LayerRef[];
}

export interface FormatOptions {
  maxManifestBytes: number;
  /** GOARCH-style architecture to pick from a multi-platform index. */
  architecture: string;
}

export interface ImageFormat {
  name: string;
  detect(fs: ArchiveFs): boolean;
  images(fs: ArchiveFs, opts: FormatOptions): Promise<ImageCandidate[]>;
}

export const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}
