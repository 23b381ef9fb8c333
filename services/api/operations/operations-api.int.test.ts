// /v1/operations through the real API (fastify, SQLite, the rules) with a fake
// host that builds on cue: a create answers 202 with an operation at once, the
// operation shows hostd's progress and ends with the result, other tenants
// cannot see it, bad requests are still refused synchronously, and an API
// restart marks what it left running as failed, rows included.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../../../images/containers/builders/busybox.js';
import { loadConfig } from '../../contracts/config.js';
import { ForkdError } from '../../contracts/errors.js';
import type { ContainerCreateInput, HostInfo, JobInput, JobName, JobOutput, TemplateFacts } from '../../contracts/jobs.js';
import { generateApiKey } from '../api-keys.js';
import { openDatabase, type Database } from '../db/client.js';
import type { HostJobs, JobProgress, KnownHost } from '../host-jobs.js';
import { buildApiServer } from '../server.js';

const HOST = 'h1';

/** A latch a fake job waits on until the test opens it. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((r) => { open = r; });
  return { open, opened };
}

/** Stands in for hostd: builds templates and creates containers when the test says, reporting progress as hostd does. */
class FakeHosts {
  calls: Array<{ name: string; input: any }> = [];
  buildGate = latch();
  createGate = latch();
  /** The progress callback of the job now running, so the test can report as hostd would. */
  progress: ((p: JobProgress) => void) | undefined;
  private arrivals = new Map<string, () => void>();

  /** Resolves when the next job named `name` reaches the host (its progress callback is then the one in `progress`). */
  arrival(name: JobName): Promise<void> {
    return new Promise((r) => this.arrivals.set(name, r));
  }

  async listHosts(): Promise<KnownHost[]> {
    const now = new Date().toISOString();
    return [{ hostId: HOST, hostname: HOST, pid: 1, startedAt: now, lastSeenAt: now, accel: 'tcg', draining: false, up: true }];
  }

  async call<N extends JobName>(hostId: string, name: N, input: JobInput<N>, opts: { onProgress?: (p: JobProgress) => void } = {}): Promise<JobOutput<N>> {
    this.calls.push({ name, input });
    if (name === 'template.build' || name === 'container.create') this.progress = opts.onProgress;
    this.arrivals.get(name)?.();
    this.arrivals.delete(name);
    switch (name) {
      case 'host.info':
        return {
          hostId, hostname: hostId, forkdVersion: 'test', accel: 'tcg', accelReason: 'override', libvirtVersion: '1', qemuVersion: '1',
          capacity: { cpus: 2, memoryMib: 4096, freeMemoryMib: 4096 }, vms: { running: 0, total: 0 }, ksm: { available: false, running: false, pagesSharing: 0, pagesShared: 0 },
        } satisfies HostInfo as JobOutput<N>;
      case 'template.build': {
        await this.buildGate.opened;
        const id = (input as { templateId: string }).templateId;
        return {
          templateId: id, accel: 'tcg', qemuVersion: '1', machineType: 'pc', formatVersion: 1, buildMs: 1,
          files: { memory: { bytes: 1 }, state: { bytes: 1 }, disk: { bytes: 1 } }, pool: { target: 0, ready: 0, starting: 0 },
        } satisfies TemplateFacts as JobOutput<N>;
      }
      case 'container.create': {
        await this.createGate.opened;
        const i = input as ContainerCreateInput;
        return {
          vm: { vmId: i.vmId, domainName: `forkd-vm-${i.vmId}`, accel: 'tcg', boot: i.boot, timings: {} },
          status: { state: 'running', exitCode: null, oomKilled: false, startedAt: new Date().toISOString(), finishedAt: null },
          ports: [],
        } as JobOutput<N>;
      }
      case 'container.inspect': return { state: 'running', exitCode: null, oomKilled: false, startedAt: null, finishedAt: null } as JobOutput<N>;
      case 'vm.destroy': return { destroyed: true } as JobOutput<N>;
      default: throw new ForkdError('ERR_INTERNAL', `the fake host has no ${name}`);
    }
  }
}

let dataDir: string;
let database: Database;
let app: FastifyInstance;
let hosts: FakeHosts;
let adminKey: string;
let acmeKey: string;

async function api(method: string, url: string, body?: unknown, key = adminKey): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
  const res = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, json: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
}

/** Long-polls (passing the `updatedAt` last seen) until `done` holds or the operation ends; returns every step seen on the way. */
async function followUntil(id: string, done: (op: any) => boolean, key = adminKey): Promise<{ op: any; steps: string[] }> {
  const steps: string[] = [];
  let since = '';
  for (let i = 0; i < 50; i++) {
    // The first look answers at once; then each long-poll says what it saw, so it wakes on the next change.
    const res = await api('GET', `/v1/operations/${id}${since ? `?waitSec=30&since=${encodeURIComponent(since)}` : ''}`, undefined, key);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const op = res.json.operation;
    since = op.updatedAt;
    if (op.progress.step && steps.at(-1) !== op.progress.step) steps.push(op.progress.step);
    if (done(op) || op.state === 'succeeded' || op.state === 'failed') return { op, steps };
  }
  throw new Error(`operation ${id} did not get there in 50 polls`);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'forkd-operations-api-'));
  const config = loadConfig({ FORKD_DATA_DIR: dataDir, FORKD_LOG_LEVEL: 'error', FORKD_POOL_SIZE: '0' });
  database = await openDatabase({ url: '', dataDir });
  hosts = new FakeHosts();
  app = await buildApiServer({ config, db: database.prisma, redis: {} as Redis, hostJobs: hosts as unknown as HostJobs });
  const k = generateApiKey();
  await database.prisma.apiKey.create({ data: { role: 'admin', prefix: k.prefix, hash: k.hash } });
  adminKey = k.key;
  expect((await api('POST', '/v1/tenants', { name: 'acme' })).status).toBe(201);
  acmeKey = (await api('POST', '/v1/keys', { tenant: 'acme' })).json.key;
  const archive = join(dataDir, 'busybox.tar');
  await buildBusyboxImage(archive, {});
  const up = await app.inject({ method: 'POST', url: '/v1/images', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/x-tar' }, payload: readFileSync(archive) });
  expect(up.statusCode, up.body).toBe(201);
});

afterAll(async () => {
  await app?.close();
  await database?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('building a template', () => {
  let operationId = '';

  it('answers 202 with a running operation while the host is still building, then shows its progress and ends with the template', async () => {
    const building = hosts.arrival('template.build');
    const res = await api('POST', '/v1/templates', { image: 'busybox' });
    // The answer came back although the fake host has not finished (its gate is shut).
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    const op = res.json.operation;
    operationId = op.id;
    expect(op).toMatchObject({ kind: 'template.create', state: 'running', progress: { percent: 0 }, targetId: expect.any(String), createdAt: expect.any(String) });
    expect(res.headers.location).toBe(`/v1/operations/${op.id}`);
    expect((await database.prisma.template.findUniqueOrThrow({ where: { id: op.targetId } })).state).toBe('building');

    // hostd reports as the build goes; a long-poll wakes for each.
    await building;
    hosts.progress!({ percent: 50, step: 'boot' });
    const booted = await followUntil(op.id, (o) => o.progress.step === 'template: boot');
    expect(booted.op.progress).toEqual({ percent: 50, step: 'template: boot' });
    hosts.progress!({ percent: 80, step: 'save' });
    hosts.buildGate.open();
    const end = await followUntil(op.id, () => false);
    expect(end.op.state).toBe('succeeded');
    expect(end.op.progress.percent).toBe(100);
    expect(end.op.result).toMatchObject({ id: op.targetId, state: 'ready', image: expect.stringMatching(/^sha256:/) });
    expect((await database.prisma.template.findUniqueOrThrow({ where: { id: op.targetId } })).state).toBe('ready');
  });

  it('is the owner\'s alone: another tenant gets 404 for it and does not list it', async () => {
    expect((await api('GET', `/v1/operations/${operationId}`)).status).toBe(200);
    const other = await api('GET', `/v1/operations/${operationId}`, undefined, acmeKey);
    expect(other.status).toBe(404);
    expect(other.json.error.code).toBe('ERR_NOT_FOUND');
    expect((await api('GET', '/v1/operations')).json.operations.map((o: { id: string }) => o.id)).toContain(operationId);
    expect((await api('GET', '/v1/operations', undefined, acmeKey)).json.operations).toEqual([]);
  });

  it('refuses a bad body, an unknown image and a duplicate synchronously (4xx, no operation); a good one gets 202', async () => {
    const before = await database.prisma.operation.count();
    const bad = await api('POST', '/v1/templates', { image: 'busybox', vcpus: 0 });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'ERR_VALIDATION', field: 'body.vcpus' });
    const unknown = await api('POST', '/v1/templates', { image: 'nosuchimage' });
    expect(unknown.status).toBe(404);
    const duplicate = await api('POST', '/v1/templates', { image: 'busybox' });
    expect(duplicate.status).toBe(409);
    expect(await database.prisma.operation.count()).toBe(before);
    const good = await api('POST', '/v1/templates', { image: 'busybox', memoryMib: 512 });
    expect(good.status).toBe(202);
    expect((await followUntil(good.json.operation.id, () => false)).op.state).toBe('succeeded'); // the gate is open now
  });

  it('refuses a waitSec over 60 on the field, and answers one of 60', async () => {
    const res = await api('GET', `/v1/operations/${operationId}?waitSec=61`);
    expect(res.status).toBe(400);
    expect(res.json.error.field).toMatch(/waitSec/);
    expect((await api('GET', `/v1/operations/${operationId}?waitSec=60`)).status).toBe(200);
  });
});

describe('creating a container', () => {
  it('answers 202 at once; the operation goes through the template (built on first use) and the VM to the running container', async () => {
    hosts.buildGate = latch();
    const building = hosts.arrival('template.build');
    const res = await api('POST', '/v1/containers', { image: 'busybox', command: ['sleep', '1000'], vm: { memoryMib: 384 } });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    const op = res.json.operation;
    expect(op).toMatchObject({ kind: 'container.create', state: 'running' });
    // The container exists from the start (its id is the target), not yet running.
    expect((await api('GET', `/v1/containers/${op.targetId}`)).json.state).toBe('created');
    await building;
    hosts.progress!({ percent: 50, step: 'boot' });
    await followUntil(op.id, (o) => o.progress.step === 'template: boot');
    const creating = hosts.arrival('container.create');
    hosts.buildGate.open();
    await creating;
    hosts.progress!({ percent: 30, step: 'network' }); // the VM's own 0..100 comes after the build's 70
    const vmStep = await followUntil(op.id, (o) => o.progress.step === 'network');
    expect(vmStep.op.progress.percent).toBeGreaterThanOrEqual(70);
    hosts.createGate.open();
    const end = await followUntil(op.id, () => false);
    expect(end.op).toMatchObject({ state: 'succeeded', result: { id: op.targetId, state: 'running', vm: { boot: 'fork' } } });
  });

  it('still refuses a bad body, an unknown image and a taken name synchronously; a good one gets 202', async () => {
    expect((await api('POST', '/v1/containers', { image: 'busybox', memoryMib: 1 })).status).toBe(400);
    expect((await api('POST', '/v1/containers', { image: 'nosuchimage', command: ['true'] })).status).toBe(404);
    const first = await api('POST', '/v1/containers', { image: 'busybox', name: 'once', boot: 'cold', command: ['true'] });
    expect(first.status).toBe(202);
    const taken = await api('POST', '/v1/containers', { image: 'busybox', name: 'once', boot: 'cold', command: ['true'] });
    expect(taken.status).toBe(409);
    expect(taken.json.error.field).toBe('name');
    expect((await followUntil(first.json.operation.id, () => false)).op.state).toBe('succeeded');
  });
});

describe('an API restarted mid-work', () => {
  it('marks the operation it left running failed (ERR_INTERRUPTED), the half-made container and VM failed, and frees the address; finished ones stay', async () => {
    hosts.createGate = latch(); // the host never answers this one: the old API "dies" waiting
    const creating = hosts.arrival('container.create');
    const res = await api('POST', '/v1/containers', { image: 'busybox', boot: 'cold', name: 'lost', command: ['sleep', '1000'] });
    expect(res.status).toBe(202);
    const lost = res.json.operation;
    await creating;
    const finished = (await api('GET', '/v1/operations')).json.operations.filter((o: { state: string }) => o.state === 'succeeded').length;
    const container = await database.prisma.container.findUniqueOrThrow({ where: { id: lost.targetId } });
    expect(await database.prisma.networkAddress.count({ where: { vmId: container.vmId } })).toBe(1);

    // A new API process over the same database (the old one's work is gone with it).
    const config = loadConfig({ FORKD_DATA_DIR: dataDir, FORKD_LOG_LEVEL: 'error' });
    const restarted = await buildApiServer({ config, db: database.prisma, redis: {} as Redis, hostJobs: hosts as unknown as HostJobs });
    try {
      const again = await restarted.inject({ method: 'GET', url: `/v1/operations/${lost.id}`, headers: { authorization: `Bearer ${adminKey}` } });
      const op = JSON.parse(again.body).operation;
      expect(op.state).toBe('failed');
      expect(op.error.code).toBe('ERR_INTERRUPTED');
      expect(op.error.message).toMatch(/API restarted/);
      expect((await database.prisma.container.findUniqueOrThrow({ where: { id: lost.targetId } })).state).toBe('failed');
      // Not live any more: failed, and gone once the host confirmed the destroy (the fake host confirms at once).
      expect(['failed', 'gone']).toContain((await database.prisma.vm.findUniqueOrThrow({ where: { id: container.vmId } })).state);
      expect(await database.prisma.networkAddress.count({ where: { vmId: container.vmId } })).toBe(0);
      expect(hosts.calls.filter((c) => c.name === 'vm.destroy').map((c) => c.input.vmId)).toContain(container.vmId);
      // What had finished before the restart is untouched.
      const list = JSON.parse((await restarted.inject({ method: 'GET', url: '/v1/operations', headers: { authorization: `Bearer ${adminKey}` } })).body).operations;
      expect(list.filter((o: { state: string }) => o.state === 'succeeded').length).toBe(finished);
      expect(list.filter((o: { state: string }) => o.state === 'running')).toEqual([]);
    } finally {
      await restarted.close();
    }
  });
});
