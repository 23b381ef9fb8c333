// HostWorker on a real Redis with fake handlers: streams run on their own
// queue, so a host whose job slots are all taken still runs streams and a host
// whose streams never end still runs jobs; stop ends log follows at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../services/contracts/logger.js';
import { connectRedis } from '../services/contracts/redis.js';
import { HostJobs } from '../services/api/host-jobs.js';
import { PrivateRedis } from '../services/cli/private-redis.js';
import type { JobContext, JobHandlers } from '../services/hostd/job-handlers.js';
import { HostWorker } from '../services/hostd/worker.js';

let dir: string;
let server: PrivateRedis;
let redis: Redis;
let jobs: HostJobs;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forkd-worker-'));
  server = new PrivateRedis(join(dir, 'redis.sock'), join(dir, 'redis'));
  await server.start();
  redis = await connectRedis(server.url);
  jobs = new HostJobs(redis, 60_000);
});

afterAll(async () => {
  await jobs?.close();
  redis?.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const log = createLogger('error');
const info = { hostId: 'h', hostname: 'h', forkdVersion: 't', accel: 'tcg', accelReason: 'override', libvirtVersion: '1', qemuVersion: '1',
  capacity: { cpus: 1, memoryMib: 1, freeMemoryMib: 1 }, vms: { running: 0, total: 0 }, ksm: { available: false, running: false, pagesSharing: 0, pagesShared: 0 } } as const;

/** A follow that ends only when hostd stops (as a real one ends on cancel or stop). */
const endlessFollow = (started: string[]) => async (input: { session: string }, ctx: JobContext) => {
  started.push(input.session);
  await new Promise<void>((resolve) => {
    if (ctx.stopping.aborted) resolve();
    ctx.stopping.addEventListener('abort', () => resolve(), { once: true });
  });
  return { lines: 0 };
};

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(check()).toBe(true);
}

describe('HostWorker', () => {
  it('runs jobs while streams hold more than every job slot, and ends the follows when it stops', async () => {
    const started: string[] = [];
    const handlers = { 'host.info': async () => info, 'container.logs': endlessFollow(started) } as unknown as JobHandlers;
    const worker = new HostWorker({ hostId: 'h1', accel: 'tcg', redis, handlers, log, concurrency: 1, streamConcurrency: 4 });
    await worker.start();
    const follows = [1, 2, 3].map((i) => jobs.call('h1', 'container.logs', { vmId: 'v', containerId: 'c', session: `session-${i}`, follow: true }));
    await until(() => started.length === 3);
    // Three streams on a host with one job slot: a job still runs (before, it waited behind them; bounded by the call's timeout).
    await expect(jobs.call('h1', 'host.info', {}, { timeoutMs: 20_000 })).resolves.toMatchObject({ hostId: 'h' });
    // Stop with a grace far longer than the test may run: the follows end at once, cleanly (they resolve, not fail).
    await worker.stop(3_600_000);
    await expect(Promise.all(follows)).resolves.toEqual([{ lines: 0 }, { lines: 0 }, { lines: 0 }]);
    expect(worker.state).toBe('stopped');
  });

  it('lets a job finish within the grace when it stops', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let running = false;
    const handlers = { 'host.info': async () => { running = true; await gate; return info; } } as unknown as JobHandlers;
    const worker = new HostWorker({ hostId: 'h2', accel: 'tcg', redis, handlers, log, concurrency: 1 });
    await worker.start();
    const call = jobs.call('h2', 'host.info', {});
    await until(() => running);
    const stopping = worker.stop(3_600_000);
    release();
    await stopping;
    await expect(call).resolves.toMatchObject({ hostId: 'h' });
  });
});
