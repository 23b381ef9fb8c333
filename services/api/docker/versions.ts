// Docker Engine API versions: which this endpoint speaks, and how a request's
// path names one. Clients send `/v1.NN/…` once they negotiated (the CLI),
// or unprefixed paths (dockerode, docker-py): both reach the same routes.

/** The oldest version answered; /version reports it as MinAPIVersion. */
export const MIN_API_VERSION = '1.24';
/** The newest, sent as `Api-Version` by /_ping (the CLI negotiates down to it). */
export const API_VERSION = '1.50';

export type VersionedPath =
  | { ok: true; version: string | null; path: string }
  | { ok: false; version: string; message: string };

/** Compares `1.NN` versions numerically (1.9 < 1.24). */
export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/**
 * Splits `/v1.44/containers/json?all=1` into its version and the path the
 * routes know (`/containers/json?all=1`). Out of range: the daemon's own
 * wording, which clients show as is.
 */
export function parseVersionedPath(url: string): VersionedPath {
  const m = /^\/v(\d+\.\d+)(\/.*)?$/.exec(url.split('?')[0]!);
  if (!m) return { ok: true, version: null, path: url };
  const version = m[1]!;
  const path = url.slice(`/v${version}`.length) || '/';
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    return { ok: false, version, message: `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version` };
  }
  if (compareVersions(version, API_VERSION) > 0) {
    return { ok: false, version, message: `client version ${version} is too new. Maximum supported API version is ${API_VERSION}` };
  }
  return { ok: true, version, path };
}
