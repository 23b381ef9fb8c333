// hostd's metrics, in its own prom-client registry with the label host=<id>
// on every series: VMs by state, warm pools, create latency with its steps,
// agent round-trip, container starts/exits/OOM kills, host and VM memory.
// Labels stay bounded: host, state, boot, step (names in the code), template
// (a host holds few); never a container or VM id. Per-VM memory is therefore
// a host's sum and maximum here; one VM's figures are in its container's stats.
import { readFile } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NewEvent } from '../../contracts/events/index.js';
import { HOST_METRICS_INTERVAL_MS, HOST_METRICS_TTL_MS, hostMetricsKey } from '../../contracts/metrics.js';
import { errorFields, type Logger } from '../../contracts/logger.js';
import type { TemplateRegistry } from '../templates/template-registry.js';
import type { ManagedVm, VmManager } from '../vm/vm-manager.js';

/** Seconds: a fork takes well under a second with KVM, a cold boot under TCG a minute or more. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320];
const AGENT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
/** Agents pinged per snapshot: the round-trip is a sample, not a census. */
const PINGS_PER_SNAPSHOT = 16;

export interface HostMetricsSources {
  vms: VmManager;
  templates?: TemplateRegistry;
}

export class HostMetrics {
  readonly registry = new Registry();
  private readonly createSeconds: Histogram<'boot'>;
  private readonly stepSeconds: Histogram<'boot' | 'step'>;
  private readonly agentSeconds: Histogram;
  private readonly starts: Counter;
  private readonly exits: Counter;
  private readonly ooms: Counter;

  constructor(hostId: string, private readonly sources: HostMetricsSources) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ host: hostId });
    this.createSeconds = new Histogram({ name: 'forkd_vm_create_seconds', help: 'Time to a running container in a new VM (container.create on the host), by boot: cold, fork (a clone started for it) or pool (taken from the warm pool).', labelNames: ['boot'], buckets: LATENCY_BUCKETS, registers });
    this.stepSeconds = new Histogram({ name: 'forkd_vm_create_step_seconds', help: 'The steps of a VM create (record.timings: boot, claim, agentReady, identity, imageImport, containerStart…), by boot.', labelNames: ['boot', 'step'], buckets: LATENCY_BUCKETS, registers });
    this.agentSeconds = new Histogram({ name: 'forkd_agent_roundtrip_seconds', help: 'Round-trip of a ping to a guest agent over virtio-serial (sampled each snapshot).', buckets: AGENT_BUCKETS, registers });
    this.starts = new Counter({ name: 'forkd_container_starts_total', help: 'Containers started on this host.', registers });
    this.exits = new Counter({ name: 'forkd_container_exits_total', help: 'Container exits noticed on this host (the die events).', registers });
    this.ooms = new Counter({ name: 'forkd_container_oom_kills_total', help: 'Container exits caused by the OOM killer.', registers });
    const vmsGauge = new Gauge({
      name: 'forkd_vms', help: 'VMs hostd manages, by state (creating, running, stopping…); warm-pool shells are in forkd_pool_shells.', labelNames: ['state'], registers,
      collect: () => {
        vmsGauge.reset();
        for (const state of ['creating', 'running', 'stopping']) vmsGauge.set({ state }, 0);
        for (const vm of this.managed()) vmsGauge.inc({ state: vm.state });
      },
    });
    const pool = new Gauge({
      name: 'forkd_pool_shells', help: 'Warm-pool shells per template: ready, starting, and the target size.', labelNames: ['template', 'state'], registers,
      collect: () => {
        pool.reset();
        for (const p of this.sources.templates?.poolStats() ?? []) {
          pool.set({ template: p.templateId, state: 'ready' }, p.ready);
          pool.set({ template: p.templateId, state: 'starting' }, p.starting);
          pool.set({ template: p.templateId, state: 'target' }, p.target);
        }
      },
    });
    const poolCounter = (name: string, help: string, pick: (p: ReturnType<TemplateRegistry['poolStats']>[number]) => number) => {
      const c: Counter<'template'> = new Counter({
        name, help, labelNames: ['template'], registers,
        collect: () => {
          c.reset();
          for (const p of this.sources.templates?.poolStats() ?? []) c.inc({ template: p.templateId }, pick(p));
        },
      });
    };
    poolCounter('forkd_pool_takes_total', 'Shells taken from a warm pool; each take starts a refill, so its rate is the refill rate while the pool keeps up.', (p) => p.taken);
    poolCounter('forkd_pool_empty_forks_total', 'Forks that found the pool empty and started a clone themselves.', (p) => p.coldForks);
    poolCounter('forkd_pool_start_failures_total', 'Shells that failed to start while refilling.', (p) => p.startFailures);
    const hostMem = new Gauge({
      name: 'forkd_host_memory_bytes', help: 'Host memory: total, free, and available (MemAvailable).', labelNames: ['kind'], registers,
      collect: async () => {
        hostMem.set({ kind: 'total' }, totalmem());
        hostMem.set({ kind: 'free' }, freemem());
        const available = await memAvailable();
        if (available !== null) hostMem.set({ kind: 'available' }, available);
      },
    });
    const vmMem = new Gauge({
      name: 'forkd_vm_memory_bytes', help: 'VM memory summed over this host\'s VMs: configured (guest RAM) and rss (resident in QEMU processes).', labelNames: ['kind'], registers,
      collect: async () => {
        const running = this.managed().filter((v) => v.state === 'running');
        const rss = await Promise.all(running.map((v) => qemuRss(v.domainName)));
        vmMem.set({ kind: 'configured' }, running.reduce((n, v) => n + v.record.memoryMib * 1024 * 1024, 0));
        vmMem.set({ kind: 'rss' }, rss.reduce<number>((n, r) => n + (r ?? 0), 0));
        vmMax.set(Math.max(0, ...rss.map((r) => r ?? 0)));
      },
    });
    const vmMax = new Gauge({ name: 'forkd_vm_memory_rss_max_bytes', help: 'The largest resident QEMU process among this host\'s VMs.', registers });
  }

  /** A create finished: its total and each step (record.timings, in ms). */
  observeCreate(boot: string, timings: Record<string, number>): void {
    for (const [key, ms] of Object.entries(timings)) {
      if (!key.endsWith('Ms') || !Number.isFinite(ms)) continue;
      const step = key.slice(0, -2);
      if (step === 'total') this.createSeconds.observe({ boot }, ms / 1000);
      else this.stepSeconds.observe({ boot, step }, ms / 1000);
    }
  }

  /** Counts what the events say (EventPublisher's onPublished). */
  onEvent(e: NewEvent): void {
    if (e.type !== 'container') return;
    if (e.action === 'start') this.starts.inc();
    if (e.action === 'die') {
      this.exits.inc();
      if (e.actor.attributes['oomKilled'] === 'true') this.ooms.inc();
    }
  }

  /** Pings up to PINGS_PER_SNAPSHOT running agents and records the round-trips. */
  async sampleAgents(): Promise<void> {
    const running = this.managed().filter((v) => v.state === 'running').slice(0, PINGS_PER_SNAPSHOT);
    await Promise.all(running.map(async (vm) => {
      const t = process.hrtime.bigint();
      try {
        await vm.agent.call('ping', {}, { timeoutMs: 5_000 });
        this.agentSeconds.observe(Number(process.hrtime.bigint() - t) / 1e9);
      } catch {
        // a busy or gone agent: no sample (its errors show elsewhere)
      }
    }));
  }

  /** Writes the snapshot every HOST_METRICS_INTERVAL_MS until the returned stop is called. */
  publish(redis: Redis, hostId: string, log: Logger): () => Promise<void> {
    let running: Promise<void> = Promise.resolve();
    const once = async () => {
      await this.sampleAgents();
      const json = await this.registry.getMetricsAsJSON();
      await redis.set(hostMetricsKey(hostId), JSON.stringify(json), 'PX', HOST_METRICS_TTL_MS);
    };
    const tick = () => { running = once().catch((err: unknown) => log.warn('could not write the metrics snapshot', errorFields(err))); };
    tick();
    const timer = setInterval(tick, HOST_METRICS_INTERVAL_MS);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await running;
    };
  }

  private managed(): ManagedVm[] {
    return this.sources.vms.all();
  }
}

async function memAvailable(): Promise<number | null> {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The resident size of the domain's QEMU process, from libvirt's pid file; null when unknown. */
async function qemuRss(domainName: string): Promise<number | null> {
  try {
    const pid = (await readFile(`/run/libvirt/qemu/${domainName}.pid`, 'utf8')).trim();
    const m = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
