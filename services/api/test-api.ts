// Test support: the real API server on a real SQLite database and a private
// Redis, with hostd replaced by a fake that answers every job the API sends
// at once. What the API decides (auth, tenancy, rows, errors) is what tests on
// this check; hostd's side has its own tests.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildBusyboxImage } from '../../images/containers/builders/busybox.js';
import { PrivateRedis } from '../cli/private-redis.js';
import { loadConfig } from '../contracts/config.js';
import { ERRORS, ForkdError, type ErrorCode } from '../contracts/errors.js';
import type { ContainerCreateInput, ContainerStatus, HostInfo, JobInput, JobName, JobOutput, TemplateFacts } from '../contracts/jobs.js';
import { parseRedisUrl } from '../contracts/redis.js';
import { generateApiKey } from './api-keys.js';
import { openDatabase, type Database } from './db/client.js';
import type { HostJobs, KnownHost } from './host-jobs.js';
import { buildApiServer } from './server.js';

export const TEST_HOST = 'h1';

const RUNNING: ContainerStatus = { state: 'running', exitCode: null, oomKilled: false, startedAt: null, finishedAt: null };
const POOL = { target: 0, ready: 0, starting: 0 };

/** Stands in for hostd: answers each job at once, and keeps what it was sent. */
export class FakeHosts {
  calls: Array<{ hostId: string; name: string; input: any }> = [];
  /** false: the host's heartbeat is stale (placement finds no host). */
  up = true;
  /** What container.create does; succeeds with the requested ports published by default. */
  onCreate: (input: ContainerCreateInput) => JobOutput<'container.create'> = (c) => ({
    vm: { vmId: c.vmId, domainName: `forkd-vm-${c.vmId}`, accel: 'tcg', boot: 'cold', timings: {} },
    status: RUNNING,
    ports: c.ports.map((p) => ({ containerPort: p.containerPort, hostAddress: p.hostIp ?? '127.0.0.1', hostPort: p.hostPort || 40000 })),
  });
  /** What volume.create does; makes the disk (succeeds) by default. */
  onVolumeCreate: (input: JobInput<'volume.create'>) => JobOutput<'volume.create'> = () => ({ created: true });
  private hold: { n: number; arrived: number; release: () => void; released: Promise<void> } | undefined;

  /**
   * Holds each listHosts caller until `n` have arrived (at most 5 s): parallel
   * container creates then all sit between their early checks and their
   * inserts, which is where a quota check outside the transaction is raced.
   */
  holdListHosts(n: number): void {
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    setTimeout(release, 5_000).unref(); // a bound, not an assertion: a caller that never comes cannot hang the test
    this.hold = { n, arrived: 0, release, released };
  }

  async listHosts(): Promise<KnownHost[]> {
    const hold = this.hold;
    if (hold) {
      if (++hold.arrived >= hold.n) { hold.release(); this.hold = undefined; }
      await hold.released;
    }
    const now = new Date().toISOString();
    return [{ hostId: TEST_HOST, hostname: TEST_HOST, pid: 1, startedAt: now, lastSeenAt: now, accel: 'tcg', draining: false, up: this.up }];
  }

  async call<N extends JobName>(hostId: string, name: N, input: JobInput<N>): Promise<JobOutput<N>> {
    this.calls.push({ hostId, name, input });
    const i = input as any;
    const out = (): unknown => {
      switch (name) {
        case 'host.info':
          return {
            hostId, hostname: hostId, forkdVersion: 'test', accel: 'tcg', accelReason: 'override', libvirtVersion: '1', qemuVersion: '1',
            capacity: { cpus: 2, memoryMib: 4096, freeMemoryMib: 4096 }, vms: { running: 0, total: 0 }, ksm: { available: false, running: false, pagesSharing: 0, pagesShared: 0 },
          } satisfies HostInfo;
        case 'container.create': return this.onCreate(input as ContainerCreateInput);
        case 'container.inspect': case 'container.signal': case 'container.stop': return RUNNING;
        case 'container.inspectMany': return { statuses: (i.containers as Array<{ containerId: string }>).map((c) => ({ containerId: c.containerId, status: RUNNING })) };
        case 'container.wait': return { ...RUNNING, state: 'exited', exitCode: 0 };
        case 'template.build':
          return {
            templateId: i.templateId, accel: 'tcg', qemuVersion: '1', machineType: 'pc', formatVersion: 1,
            files: { memory: { bytes: 1 }, state: { bytes: 1 }, disk: { bytes: 1 } }, buildMs: 1, pool: POOL,
          } satisfies TemplateFacts;
        case 'template.status': case 'template.pool': return { templateId: i.templateId, state: 'ready', reason: null, pool: POOL };
        case 'template.delete': return { deleted: true };
        case 'vm.fork': return { vmId: i.vmId, domainName: `forkd-vm-${i.vmId}`, accel: 'tcg', boot: 'fork', timings: {} };
        case 'vm.destroy': return { destroyed: true };
        case 'network.remove': return { removed: true };
        case 'volume.create': return this.onVolumeCreate(input as JobInput<'volume.create'>);
        case 'volume.delete': return { deleted: true };
        // container.logs, container.exec: no stream here; the relay turns this into an `error` frame.
        default: throw new ForkdError('ERR_INTERNAL', `the fake host has no ${name}`);
      }
    };
    return out() as JobOutput<N>;
  }

  /** As HostJobs.enqueue: the job runs at once (recorded in `calls`), `finished` has its answer. */
  async enqueue<N extends JobName>(hostId: string, name: N, input: JobInput<N>): Promise<{ finished: Promise<JobOutput<N>> }> {
    const finished = this.call(hostId, name, input);
    finished.catch(() => undefined);
    return { finished };
  }

  /** The input of the newest `name` job. */
  last(name: string): any {
    return this.calls.filter((c) => c.name === name).at(-1)?.input;
  }
}

export interface TestApi {
  app: FastifyInstance;
  /** The server's FORKD_DATA_DIR (removed by stop). */
  dataDir: string;
  database: Database;
  hosts: FakeHosts;
  /** The server's Redis (tests put what hostd would write there: events, metrics snapshots). */
  redis: Redis;
  adminKey: string;
  /** Sends a request with `key` (none when null); JSON in and out. */
  api(method: string, url: string, body?: unknown, key?: string | null): Promise<{ status: number; json: any }>;
  /**
   * `api`, then a 202's operation followed to its end: 201 with the result when
   * it succeeded, the error's catalogue status with `{error}` when it failed.
   * A synchronous answer (a 4xx found before the work) comes back as is.
   */
  create(method: string, url: string, body?: unknown, key?: string | null): Promise<{ status: number; json: any }>;
  /** An answer already in hand, followed as `create` follows it. */
  settle(res: { status: number; json: any }, key?: string | null): Promise<{ status: number; json: any }>;
  /** Makes a tenant (with quotas) and returns a key for it. */
  tenant(name: string, quota?: { maxVms?: number; maxMemoryMib?: number }): Promise<string>;
  /** Uploads a busybox image (tagged `busybox`) as `key`; returns its id. */
  uploadImage(key: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestApi(name: string): Promise<TestApi> {
  const dataDir = mkdtempSync(join(tmpdir(), `forkd-${name}-`));
  const stops: Array<() => Promise<unknown>> = [async () => rmSync(dataDir, { recursive: true, force: true })];
  const stop = async () => { for (const s of stops.splice(0)) await s(); };
  try {
    const privateRedis = new PrivateRedis(join(dataDir, 'redis.sock'), join(dataDir, 'redis'));
    await privateRedis.start();
    stops.unshift(() => privateRedis.stop());
    const redis = new Redis({ ...parseRedisUrl(privateRedis.url), lazyConnect: false });
    stops.unshift(async () => { redis.disconnect(); });
    const database = await openDatabase({ url: '', dataDir });
    stops.unshift(() => database.close());
    const hosts = new FakeHosts();
    const config = loadConfig({ FORKD_DATA_DIR: dataDir, FORKD_LOG_LEVEL: 'error' });
    const app = await buildApiServer({ config, db: database.prisma, redis, hostJobs: hosts as unknown as HostJobs });
    stops.unshift(() => app.close());
    const k = generateApiKey();
    await database.prisma.apiKey.create({ data: { role: 'admin', prefix: k.prefix, hash: k.hash } });
    const adminKey = k.key;
    const api: TestApi['api'] = async (method, url, body, key = adminKey) => {
      const res = await app.inject({
        method: method as 'GET', url, ...(key === null ? {} : { headers: { authorization: `Bearer ${key}` } }), ...(body === undefined ? {} : { payload: body as object }),
      });
      let json: unknown;
      try { json = res.body ? JSON.parse(res.body) : undefined; } catch { json = res.body; } // streams answer with text
      return { status: res.statusCode, json };
    };
    const settle: TestApi['settle'] = async (res, key = adminKey) => {
      if (res.status !== 202) return res;
      let op = res.json.operation as { id: string; state: string; result?: unknown; error?: { code: ErrorCode } };
      for (let i = 0; i < 120 && op.state !== 'succeeded' && op.state !== 'failed'; i++) {
        op = (await api('GET', `/v1/operations/${op.id}?waitSec=1`, undefined, key)).json.operation;
      }
      if (op.state === 'succeeded') return { status: 201, json: op.result };
      if (op.state === 'failed') return { status: ERRORS[op.error!.code]?.status ?? 500, json: { error: op.error } };
      throw new Error(`operation ${op.id} did not end: ${JSON.stringify(op)}`);
    };
    const create: TestApi['create'] = async (method, url, body, key = adminKey) => settle(await api(method, url, body, key), key);
    let archive: Buffer | undefined;
    return {
      app, dataDir, database, hosts, redis, adminKey, api, create, settle, stop,
      async tenant(tenantName, quota = {}) {
        const t = await api('POST', '/v1/tenants', { name: tenantName, ...quota });
        if (t.status !== 201) throw new Error(`tenant ${tenantName}: ${JSON.stringify(t.json)}`);
        return (await api('POST', '/v1/keys', { tenant: tenantName })).json.key;
      },
      async uploadImage(key) {
        if (!archive) {
          const path = join(dataDir, 'busybox.tar');
          await buildBusyboxImage(path, {});
          archive = readFileSync(path);
        }
        const up = await app.inject({ method: 'POST', url: '/v1/images', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-tar' }, payload: archive });
        if (up.statusCode !== 201) throw new Error(`image upload: ${up.body}`);
        return (JSON.parse(up.body) as { images: Array<{ id: string }> }).images[0]!.id;
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
