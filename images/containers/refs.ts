// Image references: `name[:tag]` in Docker's familiar form. `busybox` means
// `busybox:latest`; `docker.io/library/busybox` is the same image.

import { ForkdError } from '../../services/contracts/errors.js';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?';
const REF = new RegExp(`^(${DOMAIN}${COMPONENT}(?:/${COMPONENT})*)(?::([\\w][\\w.-]{0,127}))?$`);

export const ID_RE = /^(?:sha256:)?([0-9a-f]{64})$/;
export const PREFIX_RE = /^(?:sha256:)?([0-9a-f]{12,63})$/;

/** `name:tag` with docker.io defaults removed, or undefined when `ref` is not a reference. */
export function parseRef(ref: string): string | undefined {
  const m = REF.exec(ref);
  if (m === null) return undefined;
  let name = m[1] as string;
  for (const prefix of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/']) {
    if (name.startsWith(prefix)) {
      name = name.slice(prefix.length);
      break;
    }
  }
  if (name.length > 255) return undefined;
  return `${name}:${m[2] ?? 'latest'}`;
}

export function normalizeRef(ref: string): string {
  const n = parseRef(ref);
  if (n === undefined) throw new ForkdError('ERR_VALIDATION', `not a valid image reference: ${JSON.stringify(ref)}`, { field: 'ref' });
  return n;
}
