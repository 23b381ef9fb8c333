// How the API asks a host to do something: put a job on that host's queue and
// wait for its result. The API never touches libvirt; this is its only road to
// a host.
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { ForkdError } from '../contracts/errors.js';
import {
  HOST_REGISTRY_KEY, HOST_STALE_MS, decodeJobError, queueNameFor,
  type HostAnnouncement, type JobInput, type JobName, type JobOutput,
} from '../contracts/jobs.js';

export interface KnownHost extends HostAnnouncement {
  up: boolean;
}

/** A job's progress report as hostd sends it (`job.updateProgress({percent, step})`). */
export interface JobProgress {
  percent: number;
  step: string | undefined;
}

/** hostd reports `{percent, step}`; BullMQ also allows a bare number. Anything else counts as no news. */
export function jobProgress(data: unknown): JobProgress {
  if (typeof data === 'number') return { percent: data, step: undefined };
  const d = (data ?? {}) as { percent?: unknown; step?: unknown };
  return { percent: typeof d.percent === 'number' ? d.percent : 0, step: typeof d.step === 'string' ? d.step : undefined };
}

export class HostJobs {
  private readonly queues = new Map<string, { queue: Queue; events: QueueEvents; eventsConnection: Redis }>();

  /** `downMs`: FORKD_HOST_DOWN_SEC, how old a heartbeat may be before the host counts as down. */
  constructor(private readonly redis: Redis, private readonly defaultTimeoutMs: number, private readonly downMs: number = HOST_STALE_MS) {}

  /** Hosts that announced themselves, with `up` false once their heartbeat is stale. */
  async listHosts(now = Date.now()): Promise<KnownHost[]> {
    const raw = await this.redis.hgetall(HOST_REGISTRY_KEY);
    const hosts: KnownHost[] = [];
    for (const value of Object.values(raw)) {
      try {
        const a = JSON.parse(value) as HostAnnouncement;
        hosts.push({ ...a, up: now - Date.parse(a.lastSeenAt) < this.downMs });
      } catch {
        // A garbled entry is skipped; hostd rewrites its own every heartbeat.
      }
    }
    return hosts.sort((a, b) => a.hostId.localeCompare(b.hostId));
  }

  /**
   * Enqueue `name` on `hostId`'s queue (its stream queue for logs and exec) and wait for its result. `onProgress`
   * hears the job's `updateProgress({percent, step})` reports (QueueEvents
   * 'progress'); it needs `jobId`, so reports sent before `add` returns are
   * not missed.
   */
  async call<N extends JobName>(hostId: string, name: N, input: JobInput<N>, opts: { timeoutMs?: number; jobId?: string; onProgress?: (p: JobProgress) => void } = {}): Promise<JobOutput<N>> {
    const { queue, events } = await this.queueFor(queueNameFor(hostId, name));
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const { onProgress, jobId } = opts;
    const listener = onProgress && jobId
      ? ({ jobId: id, data }: { jobId: string; data: unknown }) => { if (id === jobId) onProgress(jobProgress(data)); }
      : undefined;
    if (listener) events.on('progress', listener);
    try {
      const job: Job = await queue.add(name, input, {
        ...(jobId ? { jobId } : {}),
        attempts: 1,
        removeOnComplete: { age: 3600, count: 1000 },
        removeOnFail: { age: 24 * 3600, count: 1000 },
      });
      try {
        return (await job.waitUntilFinished(events, timeoutMs)) as JobOutput<N>;
      } catch (err) {
        throw await this.explainFailure(job, hostId, err, timeoutMs);
      }
    } finally {
      if (listener) events.off('progress', listener);
    }
  }

  /**
   * Enqueue without waiting for the answer. The job stays in Redis until a
   * hostd finishes it (a hostd that dies holding it loses its lock and the
   * next one takes it over): this is the journal of work the caller already
   * answered for. `jobId` makes a second enqueue of the same work a no-op;
   * a failed attempt is retried `attempts` times with a growing delay.
   * `finished` settles with the result (or the failure of the last attempt).
   */
  async enqueue<N extends JobName>(hostId: string, name: N, input: JobInput<N>, opts: { jobId: string; attempts: number; timeoutMs?: number }): Promise<{ finished: Promise<JobOutput<N>> }> {
    const { queue, events } = await this.queueFor(queueNameFor(hostId, name));
    const job: Job = await queue.add(name, input, {
      jobId: opts.jobId,
      attempts: opts.attempts,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 24 * 3600, count: 1000 },
    });
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const finished = (job.waitUntilFinished(events, timeoutMs) as Promise<JobOutput<N>>).catch(async (err: unknown) => {
      throw await this.explainFailure(job, hostId, err, timeoutMs);
    });
    finished.catch(() => undefined); // a caller that does not listen must not crash the process
    return { finished };
  }

  private async explainFailure(job: Job, hostId: string, err: unknown, timeoutMs: number): Promise<ForkdError> {
    const message = (err as Error)?.message ?? String(err);
    const body = decodeJobError(message);
    if (body) return ForkdError.fromJSON(body);
    if (/timed out/i.test(message)) {
      const state = await job.getState().catch(() => 'unknown');
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
        await job.remove().catch(() => {});
        return new ForkdError('ERR_HOST_UNAVAILABLE', `host ${hostId} did not pick up the ${job.name} job within ${timeoutMs} ms (is its hostd running?)`, { detail: { hostId } });
      }
      return new ForkdError('ERR_TIMEOUT', `host ${hostId} did not finish ${job.name} within ${timeoutMs} ms (job ${job.id} is ${state})`, { detail: { hostId, jobId: job.id } });
    }
    return new ForkdError('ERR_INTERNAL', `job ${job.name} on ${hostId} failed: ${message}`, { detail: { hostId, jobId: job.id } });
  }

  private async queueFor(name: string) {
    let entry = this.queues.get(name);
    if (!entry) {
      const queue = new Queue(name, { connection: this.redis });
      // QueueEvents blocks on its connection, so it gets its own (and we close it: BullMQ leaves passed-in connections open).
      const eventsConnection = this.redis.duplicate();
      const events = new QueueEvents(name, { connection: eventsConnection });
      await events.waitUntilReady();
      entry = { queue, events, eventsConnection };
      this.queues.set(name, entry);
    }
    return entry;
  }

  async close(): Promise<void> {
    const entries = [...this.queues.values()];
    this.queues.clear();
    // QueueEvents sits in a blocking XREAD of up to 10 s, and BullMQ does not drop a connection it was given, so
    // closing it first waited out that block, queue after queue (70 s for a stack's seven queues). The connection
    // is ours: dropping it ends the read at once.
    await Promise.all(entries.map(async ({ queue, events, eventsConnection }) => {
      eventsConnection.disconnect();
      await events.close().catch(() => {});
      await queue.close();
    }));
  }
}
