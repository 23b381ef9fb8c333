// The contract between the API and hostd: which jobs exist, what each takes and
// returns, and how queues and the host registry are named in Redis. Both sides
// import this file and nothing else of each other.
import type { Accel } from './config.js';
import type { ErrorBody } from './errors.js';

/** One BullMQ queue per host. BullMQ reserves ':' in queue names, so '-' it is. */
export function hostQueueName(hostId: string): string {
  return `forkd-host-${hostId}`;
}

/** Redis hash: hostId → JSON HostAnnouncement, refreshed by each hostd. */
export const HOST_REGISTRY_KEY = 'forkd:hosts';
export const HOST_HEARTBEAT_MS = 5_000;
/** A host not seen for this long is reported `down` and gets no new work. */
export const HOST_STALE_MS = 20_000;

export interface HostAnnouncement {
  hostId: string;
  hostname: string;
  pid: number;
  startedAt: string;
  lastSeenAt: string;
  accel: Accel;
  draining: boolean;
}

export interface HostInfo {
  hostId: string;
  hostname: string;
  forkdVersion: string;
  accel: Accel;
  /** Why this accelerator: `override`, `probe`, `cached probe`, or `no /dev/kvm`. */
  accelReason: string;
  libvirtVersion: string;
  qemuVersion: string;
  capacity: { cpus: number; memoryMib: number; freeMemoryMib: number };
  vms: { running: number; total: number };
}

/** Every job: its input and what hostd returns. New jobs are added here first. */
export interface JobSpecs {
  'host.info': { input: Record<string, never>; output: HostInfo };
}

export type JobName = keyof JobSpecs;
export type JobInput<N extends JobName> = JobSpecs[N]['input'];
export type JobOutput<N extends JobName> = JobSpecs[N]['output'];

/**
 * A job that fails throws an Error whose message is this prefix + a JSON
 * ErrorBody, so the API can rebuild the exact ForkdError (code, field, detail)
 * from BullMQ's `failedReason` string.
 */
export const JOB_ERROR_PREFIX = 'forkd-error:';

export function encodeJobError(body: ErrorBody): string {
  return JOB_ERROR_PREFIX + JSON.stringify(body);
}

export function decodeJobError(reason: string | undefined): ErrorBody | undefined {
  if (!reason?.startsWith(JOB_ERROR_PREFIX)) return undefined;
  try {
    const body = JSON.parse(reason.slice(JOB_ERROR_PREFIX.length)) as ErrorBody;
    return typeof body?.error?.code === 'string' && typeof body.error.message === 'string' ? body : undefined;
  } catch {
    return undefined;
  }
}
