// The pure rules of volumes: names, sizes, labels, the mounts a container asks
// for, and whether a claim is held. No database here, so all of it is
// unit-tested (rules.test.ts).
import { ForkdError } from '../../contracts/errors.js';
import { MAX_VOLUMES_PER_CONTAINER, VOLUME_SIZE_MIB } from '../../contracts/jobs.js';
import { isVmLive } from '../../contracts/lifecycle/index.js';

/** Docker's volume-name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (here from one character, up to 64). */
export const VOLUME_NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$';
const NAME_RE = new RegExp(VOLUME_NAME_PATTERN);

/** Without sizeMib: 1 GiB (the file is sparse: only what the guest writes takes host disk). */
export const DEFAULT_VOLUME_MIB = 1024;

export const MAX_LABELS = 64;

/** A mount a container create asks for. */
export interface VolumeRequest {
  /** A volume's name or id; a name that does not exist is created (like `docker run -v name:/path`). */
  volume: string;
  /** Absolute path in the container. */
  path: string;
  readOnly?: boolean;
}

export function assertVolumeName(name: string, field = 'name'): void {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new ForkdError('ERR_VALIDATION', `invalid volume name ${JSON.stringify(name)}: 1–64 of a-z A-Z 0-9 _ . -, starting with a letter or digit`, { field });
  }
}

export function volumeSize(sizeMib: number | undefined): number {
  const size = sizeMib ?? DEFAULT_VOLUME_MIB;
  if (!Number.isInteger(size) || size < VOLUME_SIZE_MIB.min || size > VOLUME_SIZE_MIB.max) {
    throw new ForkdError('ERR_VALIDATION', `sizeMib must be a whole number from ${VOLUME_SIZE_MIB.min} to ${VOLUME_SIZE_MIB.max}`, { field: 'sizeMib' });
  }
  return size;
}

export function checkLabels(labels: Record<string, string> | undefined): Record<string, string> | null {
  if (labels === undefined) return null;
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw new ForkdError('ERR_VALIDATION', `at most ${MAX_LABELS} labels`, { field: 'labels' });
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > 256 || typeof v !== 'string' || v.length > 4096) {
      throw new ForkdError('ERR_VALIDATION', `label ${JSON.stringify(k)}: keys 1–256 characters, values strings up to 4096`, { field: 'labels' });
    }
  }
  return labels;
}

/**
 * Validates a create's `volumes`: each path absolute and normalised, no path
 * or volume twice, at most MAX_VOLUMES_PER_CONTAINER. Errors name the entry
 * (`volumes[1].path`).
 */
export function checkVolumeRequests(requests: readonly VolumeRequest[] | undefined): Array<Required<VolumeRequest>> {
  if (!requests || requests.length === 0) return [];
  if (requests.length > MAX_VOLUMES_PER_CONTAINER) {
    throw new ForkdError('ERR_VALIDATION', `at most ${MAX_VOLUMES_PER_CONTAINER} volumes per container`, { field: 'volumes' });
  }
  const paths = new Set<string>();
  const volumes = new Set<string>();
  return requests.map((r, i) => {
    const at = `volumes[${i}]`;
    if (typeof r.volume !== 'string' || r.volume.length === 0) throw new ForkdError('ERR_VALIDATION', `${at}.volume is required`, { field: `${at}.volume` });
    assertVolumeName(r.volume, `${at}.volume`);
    const raw = typeof r.path === 'string' ? r.path : '';
    const path = raw.length > 1 && raw.endsWith('/') ? raw.slice(0, -1) : raw;
    if (!path.startsWith('/') || path === '/' || path.length > 4096 || path.includes('\0') || path.slice(1).split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) {
      throw new ForkdError('ERR_VALIDATION', `${at}.path must be an absolute, normalised path other than / (got ${JSON.stringify(r.path)})`, { field: `${at}.path` });
    }
    if (paths.has(path)) throw new ForkdError('ERR_VALIDATION', `${at}.path ${path} is used twice`, { field: `${at}.path` });
    if (volumes.has(r.volume)) throw new ForkdError('ERR_VALIDATION', `${at}.volume ${r.volume} is mounted twice`, { field: `${at}.volume` });
    paths.add(path);
    volumes.add(r.volume);
    return { volume: r.volume, path, readOnly: r.readOnly === true };
  });
}

/** The holder a claim names, with the state of its VM (null: no claim). */
export interface ClaimHolder {
  containerId: string;
  containerName: string;
  vmState: string;
}

/**
 * Whether a claim still holds: its container exists and its VM has not ended.
 * A VM that failed, was lost (the reconciler says so) or is gone frees its
 * volumes without anyone writing the Volume row: the next claim takes over.
 */
export function liveHolder(h: ClaimHolder | null): ClaimHolder | null {
  return h !== null && isVmLive(h.vmState) ? h : null;
}
