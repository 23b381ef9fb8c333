// The API's metrics and the merge with the hosts': requests by route and
// status (route is the registered pattern, `/v1/containers/:id`, never the raw
// URL), the job queues' depth and age per host (BullMQ's counts), whether each
// host is up; then, at each scrape, every live hostd's snapshot from Redis
// (contracts/metrics.ts) merged in, so one scrape of the API sees all hosts.
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, type PrometheusContentType } from 'prom-client';
import { hostQueueName, hostStreamQueueName } from '../../contracts/jobs.js';
import { HOST_METRICS_KEY_PREFIX } from '../../contracts/metrics.js';
import type { HostJobs } from '../host-jobs.js';

const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** BullMQ's job states we report (all of them but `paused` and `waiting-children`, which forkd does not use). */
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;

interface QueueRow {
  host: string;
  queue: 'jobs' | 'streams';
  counts: Record<string, number>;
  oldestWaitingSec: number;
}

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly redis: Redis, private readonly hostJobs: Pick<HostJobs, 'listHosts'>) {
    const registers = [this.registry];
    const requests = new Counter({ name: 'forkd_api_requests_total', help: 'API requests answered, by method, route pattern and status.', labelNames: ['method', 'route', 'status'], registers });
    const seconds = new Histogram({ name: 'forkd_api_request_duration_seconds', help: 'Time to answer an API request (a stream counts until it ends), by method, route pattern and status.', labelNames: ['method', 'route', 'status'], buckets: REQUEST_BUCKETS, registers });
    this.record = (method, route, status, s) => {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      seconds.observe(labels, s);
    };
    const up = new Gauge({
      name: 'forkd_host_up', help: '1 when the host\'s heartbeat is fresh, 0 when stale; draining hosts have draining="true".', labelNames: ['host', 'draining'], registers,
      collect: async () => {
        up.reset();
        for (const h of await this.hostJobs.listHosts()) up.set({ host: h.hostId, draining: String(h.draining) }, h.up ? 1 : 0);
      },
    });
    const depth = new Gauge({
      name: 'forkd_queue_jobs', help: 'Jobs in each host\'s queues (jobs: creates, stops, builds; streams: logs, exec), by state.', labelNames: ['host', 'queue', 'state'], registers,
      collect: async () => {
        depth.reset();
        for (const r of await this.queueRows()) for (const state of QUEUE_STATES) depth.set({ host: r.host, queue: r.queue, state }, r.counts[state] ?? 0);
      },
    });
    const age = new Gauge({
      name: 'forkd_queue_oldest_waiting_seconds', help: 'Age of the oldest job waiting in the queue (0 when none waits).', labelNames: ['host', 'queue'], registers,
      collect: async () => {
        age.reset();
        for (const r of await this.queueRows()) age.set({ host: r.host, queue: r.queue }, r.oldestWaitingSec);
      },
    });
  }

  /** Counts one answered request. */
  readonly record: (method: string, route: string, status: number, seconds: number) => void;

  /** Times every request on `app` (call on the root, before routes). */
  instrument(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      // The pattern, not the URL: ids would make a series per resource. Unmatched URLs share one label.
      const route = request.routeOptions.url ?? 'unmatched';
      this.record(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  /** The exposition text: this API's registry and every live host's snapshot. */
  async text(): Promise<{ contentType: string; body: string }> {
    const hostJson = await this.hostSnapshots();
    const hosts = hostJson.length > 0 ? AggregatorRegistry.aggregate<PrometheusContentType>(hostJson) : new Registry();
    const merged = Registry.merge([this.registry, hosts]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  /** Both queue gauges collect at once during a scrape: they share one read of the queues. */
  private queueRead: { at: number; rows: Promise<QueueRow[]> } | undefined;

  private queueRows(): Promise<QueueRow[]> {
    if (this.queueRead && Date.now() - this.queueRead.at < 1000) return this.queueRead.rows;
    const rows = (async () => {
      const out: QueueRow[] = [];
      for (const h of await this.hostJobs.listHosts()) {
        for (const [queue, name] of [['jobs', hostQueueName(h.hostId)], ['streams', hostStreamQueueName(h.hostId)]] as const) {
          const q = this.queue(name);
          const counts = await q.getJobCounts(...QUEUE_STATES);
          const [oldest] = await q.getWaiting(0, 0);
          out.push({ host: h.hostId, queue, counts, oldestWaitingSec: oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0 });
        }
      }
      return out;
    })();
    this.queueRead = { at: Date.now(), rows };
    return rows;
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis });
      this.queues.set(name, q);
    }
    return q;
  }

  private async hostSnapshots(): Promise<object[][]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${HOST_METRICS_KEY_PREFIX}*`, 'COUNT', 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.redis.mget(...keys);
    return values.flatMap((v) => {
      try {
        return v ? [JSON.parse(v) as object[]] : [];
      } catch {
        return []; // a garbled snapshot is skipped; its host rewrites it within seconds
      }
    });
  }
}
