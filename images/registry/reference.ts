// Registry references in Docker's grammar (distribution/reference):
//   [registry[:port]/]path[:tag][@sha256:<hex>]
// `busybox` is docker.io/library/busybox:latest. The first path component is
// a registry when it has a dot or a port or is `localhost`, as Docker decides.
// Every refusal is ERR_VALIDATION naming the field and what is wrong with it.

import { ForkdError } from '../../services/contracts/errors.js';

export const DOCKER_HUB = 'docker.io';
/** Where docker.io's API really answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface Reference {
  /** Host[:port] as written (docker.io for Docker Hub). */
  registry: string;
  /** Repository path in the registry (`library/busybox`). */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function bad(field: string, ref: string, why: string): ForkdError {
  return new ForkdError('ERR_VALIDATION', `${field} ${JSON.stringify(ref)} is not an image reference: ${why}`, { field });
}

export function parseReference(ref: string, field = 'ref'): Reference {
  if (typeof ref !== 'string' || ref.length === 0) throw new ForkdError('ERR_VALIDATION', `${field} is required (an image reference such as busybox:latest or registry.example:5000/team/app:1.0)`, { field });
  if (ref.length > 512) throw bad(field, ref.slice(0, 64) + '…', 'longer than 512 characters');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(field, ref, `digest ${JSON.stringify(digest)} is not sha256:<64 lowercase hex>`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(field, ref, `tag ${JSON.stringify(tag)} must be 1-128 of [A-Za-z0-9_.-], not starting with . or -`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    if (!HOST.test(first)) throw bad(field, ref, `registry host ${JSON.stringify(first)} is malformed`);
    registry = parts.shift() as string;
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  for (const p of parts) {
    if (!COMPONENT.test(p)) throw bad(field, ref, `path component ${JSON.stringify(p)} must be lowercase letters, digits and single separators (. _ __ -)`);
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw bad(field, ref, 'repository name longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** A registry host as `forkd registry login` names it; docker.io's aliases become docker.io. */
export function parseRegistryHost(host: string, field = 'registry'): string {
  if (typeof host !== 'string' || host.length === 0 || host.length > 255 || !HOST.test(host)) {
    throw new ForkdError('ERR_VALIDATION', `${field} ${JSON.stringify(String(host).slice(0, 80))} is not a registry host[:port]`, { field });
  }
  return ['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'].includes(host) ? DOCKER_HUB : host;
}

/** The host to connect to (docker.io's API lives elsewhere). */
export function apiHost(ref: Reference): string {
  return ref.registry === DOCKER_HUB ? DOCKER_HUB_API : ref.registry;
}

/** `name:tag` as the image store and the API record it (docker.io and library/ dropped). */
export function familiarName(ref: Reference): string {
  let repo = ref.repository;
  if (ref.registry === DOCKER_HUB && repo.startsWith('library/')) repo = repo.slice('library/'.length);
  return ref.registry === DOCKER_HUB ? repo : `${ref.registry}/${repo}`;
}

/** The tag to record for a pulled reference; a digest-only reference records none. */
export function familiarTag(ref: Reference): string | undefined {
  return ref.tag === undefined ? undefined : `${familiarName(ref)}:${ref.tag}`;
}

export function formatReference(ref: Reference): string {
  return `${familiarName(ref)}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}
