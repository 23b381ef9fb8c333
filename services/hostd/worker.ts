// hostd's side of the queues: takes jobs for this host, runs their handlers, and
// turns failures into the error bodies the API understands. Two BullMQ workers:
// one on the job queue (creates, stops, builds; a few slots, they use CPU and
// memory) and one on the stream queue (logs, exec; many slots, they mostly
// wait), so streams held open by clients never take a job's slot. It also
// announces the host in Redis (heartbeat) and drains gracefully: on stop it
// ends log follows, finishes the jobs in hand, takes no new ones, and marks the
// host draining meanwhile.
import { availableParallelism, freemem, hostname, totalmem } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Accel } from '../contracts/config.js';
import { ForkdError } from '../contracts/errors.js';
import { HOST_HEARTBEAT_MS, HOST_REGISTRY_KEY, encodeJobError, hostQueueName, hostStreamQueueName, type HostAnnouncement, type HostFacts, type JobName } from '../contracts/jobs.js';
import { errorFields, type Logger } from '../contracts/logger.js';
import type { JobHandlers } from './job-handlers.js';
import { JobProgress } from './job-progress.js';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped';

export interface HostWorkerOptions {
  hostId: string;
  accel: Accel;
  redis: Redis;
  handlers: JobHandlers;
  log: Logger;
  /** Slots for ordinary jobs (default 8, FORKD_HOSTD_JOB_CONCURRENCY). */
  concurrency?: number;
  /** Slots for streams (default 256, FORKD_STREAMS_PER_HOST: the API admits no more than that per host). */
  streamConcurrency?: number;
  /** A job's lock (default 60 s, FORKD_JOB_LOCK_SEC); stalled jobs are looked for every half of it. */
  lockMs?: number;
  /** Versions the heartbeat carries beside the capacity (placement reads them there, not from a `host.info` job). */
  versions?: { libvirtVersion: string; qemuVersion: string };
}

/**
 * The host's capacity from the kernel, not libvirt: a heartbeat must not wait
 * behind VM operations (they share hostd's libvirt connection, one call at a
 * time). Node's freemem() is /proc/meminfo's MemAvailable, what the warm pools
 * check too.
 */
export function hostFacts(versions: { libvirtVersion: string; qemuVersion: string }): HostFacts {
  const mib = (bytes: number): number => Math.floor(bytes / 2 ** 20);
  return { ...versions, capacity: { cpus: availableParallelism(), memoryMib: mib(totalmem()), freeMemoryMib: mib(freemem()) } };
}

interface Lane {
  worker: Worker;
  connection: Redis;
}

export class HostWorker {
  private readonly lanes: Lane[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  /** Aborted when the drain grace runs out. */
  private readonly drain = new AbortController();
  /** Aborted when the drain starts. */
  private readonly stopping = new AbortController();
  private readonly startedAt = new Date().toISOString();
  state: WorkerState = 'starting';

  constructor(private readonly opts: HostWorkerOptions) {}

  async start(): Promise<void> {
    if (this.state !== 'starting') throw new Error(`HostWorker.start in state ${this.state}`);
    const { hostId, redis, log } = this.opts;
    await this.addLane(hostQueueName(hostId), this.opts.concurrency ?? 8);
    await this.addLane(hostStreamQueueName(hostId), this.opts.streamConcurrency ?? 256);
    await this.announce();
    this.heartbeat = setInterval(() => void this.announce().catch((err) => log.warn('heartbeat failed', errorFields(err))), HOST_HEARTBEAT_MS);
    this.heartbeat.unref();
    this.state = 'running';
    log.info('hostd is taking jobs', { queue: hostQueueName(hostId), streams: hostStreamQueueName(hostId) });
  }

  private async addLane(queue: string, concurrency: number): Promise<void> {
    // The worker blocks on its connection; BullMQ leaves a passed-in one open, so stop() closes it.
    const connection = this.opts.redis.duplicate();
    const worker = new Worker(queue, (job) => this.run(job), {
      connection,
      concurrency,
      // Long guest operations keep the lock renewed; a crashed hostd's jobs
      // become stalled and are retried (handlers are idempotent, or see
      // ctx.interrupted and fail). BullMQ marks a job stalled on one check and
      // hands it over on the next if its lock is gone: hand-over within ~2 × lock.
      lockDuration: this.opts.lockMs ?? 60_000,
      stalledInterval: Math.min(30_000, Math.floor((this.opts.lockMs ?? 60_000) / 2)),
      autorun: true,
    });
    worker.on('error', (err) => this.opts.log.error('queue worker error', { queue, ...errorFields(err) }));
    this.lanes.push({ worker, connection });
    await worker.waitUntilReady();
  }

  private async announce(): Promise<void> {
    const a: HostAnnouncement = {
      hostId: this.opts.hostId,
      hostname: hostname(),
      pid: process.pid,
      startedAt: this.startedAt,
      lastSeenAt: new Date().toISOString(),
      accel: this.opts.accel,
      draining: this.state === 'draining',
      ...(this.opts.versions ? { facts: hostFacts(this.opts.versions) } : {}),
    };
    await this.opts.redis.hset(HOST_REGISTRY_KEY, this.opts.hostId, JSON.stringify(a));
  }

  private async run(job: Job): Promise<unknown> {
    const name = job.name as JobName;
    const handler = this.opts.handlers[name] as ((input: unknown, ctx: unknown) => Promise<unknown>) | undefined;
    const log = this.opts.log.child({ job: job.id, kind: name });
    if (!handler) throw new UnrecoverableError(encodeJobError(new ForkdError('ERR_INTERNAL', `hostd has no handler for job ${name}`).toJSON()));
    const started = Date.now();
    const progress = new JobProgress((p) => job.updateProgress(p), (err) => log.debug('progress not sent', errorFields(err)));
    try {
      const result = await handler(job.data, {
        jobId: String(job.id),
        log,
        progress: async (percent: number, step: string) => progress.report({ percent, step }),
        signal: this.drain.signal,
        stopping: this.stopping.signal,
        interrupted: job.stalledCounter > 0,
      });
      log.debug('job done', { ms: Date.now() - started });
      return result;
    } catch (err) {
      const fe = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', (err as Error)?.message ?? String(err), { cause: err });
      log[fe.code === 'ERR_INTERNAL' ? 'error' : 'info']('job failed', { ...errorFields(err), ms: Date.now() - started });
      const encoded = encodeJobError(fe.toJSON());
      throw fe.retryable ? new Error(encoded) : new UnrecoverableError(encoded);
    } finally {
      progress.close();
    }
  }

  /** Stops taking jobs, ends log follows, lets running jobs finish (up to `graceMs`), then leaves the registry. */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'draining';
    // Best effort: the registry entry goes below anyway, and a stale one is reported down.
    await this.announce().catch(() => {});
    this.stopping.abort();
    const closing = Promise.all(this.lanes.map((l) => l.worker.close()));
    const timer = setTimeout(() => {
      this.drain.abort();
      for (const l of this.lanes) void l.worker.close(true);
    }, graceMs);
    await closing;
    clearTimeout(timer);
    for (const l of this.lanes) l.connection.disconnect();
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.opts.redis.hdel(HOST_REGISTRY_KEY, this.opts.hostId).catch(() => {});
    this.state = 'stopped';
  }
}
