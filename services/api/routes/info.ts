import type { FastifyInstance } from 'fastify';
import type { HostInfo } from '../../contracts/jobs.js';
import { FORKD_VERSION } from '../../contracts/version.js';
import type { HostJobs } from '../host-jobs.js';

const hostSchema = {
  type: 'object',
  required: ['hostId', 'state'],
  properties: {
    hostId: { type: 'string' },
    state: { type: 'string', enum: ['up', 'down', 'draining'] },
    hostname: { type: 'string' },
    forkdVersion: { type: 'string' },
    accel: { type: 'string', enum: ['kvm', 'tcg'] },
    accelReason: { type: 'string' },
    libvirtVersion: { type: 'string' },
    qemuVersion: { type: 'string' },
    lastSeenAt: { type: 'string' },
    error: { type: 'string' },
    capacity: {
      type: 'object',
      properties: { cpus: { type: 'integer' }, memoryMib: { type: 'integer' }, freeMemoryMib: { type: 'integer' } },
    },
    vms: { type: 'object', properties: { running: { type: 'integer' }, total: { type: 'integer' } } },
    ksm: {
      type: 'object',
      properties: { available: { type: 'boolean' }, running: { type: 'boolean' }, pagesSharing: { type: 'integer' }, pagesShared: { type: 'integer' } },
    },
  },
} as const;

export const infoSchema = {
  response: {
    200: {
      type: 'object',
      required: ['version', 'hosts'],
      properties: {
        version: { type: 'string' },
        accel: { type: ['string', 'null'], enum: ['kvm', 'tcg', null] },
        libvirtVersion: { type: ['string', 'null'] },
        qemuVersion: { type: ['string', 'null'] },
        hosts: { type: 'array', items: hostSchema },
      },
    },
  },
} as const;

const INFO_TIMEOUT_MS = 15_000;

/** Asks every host that announced itself for its facts, through its job queue. */
export async function infoRoutes(app: FastifyInstance, opts: { hostJobs: HostJobs }): Promise<void> {
  app.get('/v1/info', { schema: infoSchema }, async () => {
    const known = await opts.hostJobs.listHosts();
    const hosts = await Promise.all(known.map(async (h) => {
      const base = { hostId: h.hostId, lastSeenAt: h.lastSeenAt, hostname: h.hostname, accel: h.accel };
      if (!h.up) return { ...base, state: 'down' as const };
      try {
        const info: HostInfo = await opts.hostJobs.call(h.hostId, 'host.info', {}, { timeoutMs: INFO_TIMEOUT_MS });
        return { ...base, ...info, state: h.draining ? ('draining' as const) : ('up' as const) };
      } catch (err) {
        return { ...base, state: 'down' as const, error: (err as Error).message };
      }
    }));
    const first = hosts.find((h) => h.state !== 'down') as (HostInfo & { state: string }) | undefined;
    return {
      version: FORKD_VERSION,
      accel: first?.accel ?? null,
      libvirtVersion: first?.libvirtVersion ?? null,
      qemuVersion: first?.qemuVersion ?? null,
      hosts,
    };
  });
}
