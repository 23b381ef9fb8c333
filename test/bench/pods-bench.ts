// `npm run bench -- pods [--scale 1,8,32] [--out FILE] [--json]`: density of
// pods against one-container VMs, in the same run on one stack. For each N:
// N idle busybox containers in one pod, then N idle busybox containers each in
// its own VM forked from the same busybox template; for both, the host memory
// per container (the QEMU processes' PSS, summed, over N) and the time to
// start the Nth container (its create, request to running). Creates run one
// after another, so the Nth sees N-1 already running. Host memory is PSS, so
// pages the clones share with their template count once over all of them.
// Each step (one N, pod or VMs) is bounded (--step-min, default 6): past it
// the step stops creating and reports how many it reached, measured on those.
import { mkdir, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildBusyboxImage } from '../../images/containers/builders/busybox.js';
import { dataPaths, loadConfig } from '../../services/contracts/config.js';
import { runCli, startStack, type Stack } from '../harness.js';
import { domainPss, qemuPidOf } from './smaps.js';
import { formatTable } from './table.js';

export interface PodsBenchOptions {
  counts: number[];
  out: string | null;
  json: boolean;
  /** Each step's bound (one N, pod or VMs), ms: past it the step stops creating and reports what it reached. Default STEP_BOUND_MS. */
  stepBoundMs?: number;
}

export interface DensityRow {
  n: number;
  mode: 'pod' | 'vms';
  /** Containers running when the step ended: n, or fewer when its bound (or a failed create) stopped it. */
  reached: number;
  /** Why the step stopped short of n; null when it reached n. */
  stopped: string | null;
  /** Sum of the QEMU processes' PSS over `reached`, MiB (null: none reached). */
  hostMibPerContainer: number | null;
  /** ms from POST /v1/containers to the last container (the `reached`th) running. */
  nthStartMs: number | null;
  /** Guest memory the tenant's quota counts, MiB. */
  quotaMib: number;
}

export interface PodsBenchReport { benchmark: 'pods'; at: string; perContainerMib: number; stepBoundMs: number; rows: DensityRow[] }

/** The whole run stops (and cleans up what it made) past this: a stuck create must not take hours. */
const RUN_BOUND_MS = 45 * 60_000;
/** One step's bound: 32 forked VMs under TCG take minutes; the step reports how many it reached in this time. */
export const STEP_BOUND_MS = 6 * 60_000;
let deadline = Number.POSITIVE_INFINITY;

/** Each container's limit in a pod; the pod is sized to hold N of them. */
const PER_CONTAINER_MIB = 16;
const IDLE = ['sh', '-c', 'while true; do sleep 60; done'];

class PastBound extends Error {}

async function json<T>(res: Response, what: string): Promise<T> {
  if (res.status >= 300) throw new Error(`${what}: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * POST and follow its operation until `until` (and the run's bound). `made`
 * hears the new object's id as soon as the answer names it, so what a bound
 * stopped midway is still removed by id.
 */
async function create(stack: Stack, path: string, body: object, until: number, made?: (id: string) => void): Promise<{ ms: number; result: unknown }> {
  const stop = Math.min(until, deadline);
  if (Date.now() > stop) throw new PastBound(Date.now() > deadline ? `run bound (${RUN_BOUND_MS / 60_000} min)` : 'step bound');
  const t0 = performance.now();
  const res = await stack.api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  type Op = { id: string; state: string; targetId?: string; result?: unknown; error?: { code: string; message: string } };
  let op = (await json<{ operation: Op }>(res, `POST ${path}`)).operation;
  if (op.targetId) made?.(op.targetId);
  while (op.state !== 'succeeded' && op.state !== 'failed') {
    const left = stop - Date.now();
    if (left <= 0) throw new PastBound(`step bound, during a create (operation ${op.id})`);
    op = (await json<{ operation: Op }>(await stack.api(`/v1/operations/${op.id}?waitSec=${Math.max(1, Math.min(60, Math.ceil(left / 1000)))}`), `operation ${op.id}`)).operation;
  }
  if (op.state === 'failed') throw new Error(`POST ${path}: ${op.error?.code}: ${op.error?.message}`);
  return { ms: performance.now() - t0, result: op.result };
}

async function pssMib(domains: readonly string[]): Promise<number> {
  let kib = 0;
  for (const d of domains) kib += (await domainPss(d)).pssKib;
  return kib / 1024;
}

/** The pod size for n containers: the guest's reserve plus n limits, rounded up to 64 MiB and at least the smallest pod. */
export function podMibFor(n: number): number {
  return Math.max(192, Math.ceil((96 + n * PER_CONTAINER_MIB) / 64) * 64);
}

/** Creates up to n containers one after another; stops at the step's bound or a failed create, and says which. */
async function createUpTo(n: number, one: (i: number) => Promise<number>): Promise<{ reached: number; nthStartMs: number | null; stopped: string | null }> {
  let nth: number | null = null;
  for (let i = 0; i < n; i++) {
    try {
      nth = await one(i);
    } catch (err) {
      process.stderr.write(`bench pods: stopped at ${i} of ${n}: ${(err as Error).message}\n`);
      return { reached: i, nthStartMs: nth, stopped: err instanceof PastBound ? (err as Error).message : `a create failed: ${(err as Error).message.slice(0, 200)}` };
    }
  }
  return { reached: n, nthStartMs: nth, stopped: null };
}

async function measurePod(stack: Stack, n: number, boundMs: number): Promise<DensityRow> {
  const until = Date.now() + boundMs;
  const memoryMib = podMibFor(n);
  let podId: string | null = null;
  let domain: string | null = null;
  try {
    const pod = (await create(stack, '/v1/pods', { name: `bench-${n}`, memoryMib, pids: 1024 }, until, (id) => { podId = id; })).result as { id: string; vm: { domainName: string } };
    domain = pod.vm.domainName;
    const step = await createUpTo(n, async () => (await create(stack, '/v1/containers', { image: 'busybox', command: IDLE, pod: pod.id, memoryMib: PER_CONTAINER_MIB, pids: 16 }, until)).ms);
    return { n, mode: 'pod', ...step, hostMibPerContainer: step.reached > 0 ? (await pssMib([pod.vm.domainName])) / step.reached : null, quotaMib: memoryMib };
  } finally {
    if (podId) await stack.api(`/v1/pods/${podId}?force=true`, { method: 'DELETE' }); // by id, also when a create failed
    if (domain) leaving.push(domain);
  }
}

async function measureVms(stack: Stack, n: number, boundMs: number): Promise<DensityRow> {
  const until = Date.now() + boundMs;
  const ids: string[] = [];
  const running: Array<{ vm: { domainName: string; memoryMib: number } }> = [];
  try {
    const step = await createUpTo(n, async () => {
      const c = await create(stack, '/v1/containers', { image: 'busybox', command: IDLE, memoryMib: PER_CONTAINER_MIB }, until, (id) => ids.push(id));
      running.push(c.result as (typeof running)[number]);
      return c.ms;
    });
    return {
      n, mode: 'vms', ...step, hostMibPerContainer: step.reached > 0 ? (await pssMib(running.map((c) => c.vm.domainName))) / step.reached : null,
      quotaMib: running.reduce((s, c) => s + c.vm.memoryMib, 0),
    };
  } finally {
    for (const id of ids) await stack.api(`/v1/containers/${id}?force=true`, { method: 'DELETE' }); // by id, also when a create failed
    // A create the bound cut short may have no domain name yet: its VM is destroyed all the same, only not waited for.
    leaving.push(...running.map((c) => c.vm.domainName));
  }
}

/** Domains the bench removed whose QEMU may still run: a removal answers once the destroy is journaled, not done. */
let leaving: string[] = [];

/**
 * Waits (bounded) until every removed VM's QEMU has exited (libvirt drops its
 * pid file), so a step does not share the host with the last one's teardowns,
 * and the stack is not stopped under them (its hostd would stop taking the
 * journaled destroys, leaving those VMs running).
 */
async function quiet(): Promise<void> {
  const until = Date.now() + 240_000;
  const running = async () => (await Promise.all(leaving.map((d) => qemuPidOf(d).then(() => d, () => null)))).filter((d): d is string => d !== null);
  let left = await running();
  while (left.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 1000));
    left = await running();
  }
  if (left.length > 0) process.stderr.write(`bench pods: ${left.length} removed VMs still running after 240 s: ${left.join(' ')}\n`);
  leaving = [];
}

export async function runPodsBench(opts: PodsBenchOptions): Promise<{ report: PodsBenchReport; text: string; jsonPath: string }> {
  deadline = Date.now() + RUN_BOUND_MS;
  const stepBoundMs = opts.stepBoundMs ?? STEP_BOUND_MS;
  // FORKD_LOG_LEVEL from the environment reaches the stack (it logs `warn` otherwise): `debug` shows every hostd job's duration.
  const stack = await startStack({ name: 'bench-pods', env: { FORKD_POOL_SIZE: '0', ...(process.env.FORKD_LOG_LEVEL ? { FORKD_LOG_LEVEL: process.env.FORKD_LOG_LEVEL } : {}) } });
  const work = mkdtempSync(join(tmpdir(), 'forkd-bench-pods-'));
  try {
    await buildBusyboxImage(join(work, 'busybox.tar'), {});
    const max = Math.max(...opts.counts);
    // Room for max one-container VMs (the default quota is 10 VMs).
    const r = await runCli(['tenant', 'create', 'bench', '--max-vms', String(max + 2), '--max-memory', String((max + 2) * 512)], stack.env);
    if (r.code !== 0) throw new Error(`tenant create: ${r.stderr}`);
    const key = (await runCli(['key', 'create', '--tenant', 'bench'], stack.env)).stdout.trim();
    const env = { ...stack.env, FORKD_API_KEY: key };
    const bench: Stack = { ...stack, api: (path, init) => stack.api(path, { key, ...init }) };
    const imported = await runCli(['image', 'import', join(work, 'busybox.tar')], env, { timeoutMs: 600_000 });
    if (imported.code !== 0) throw new Error(`image import: ${imported.stderr}`);
    // Warm-ups (not measured): the busybox template and each pod size's bare template are built on first use.
    const warm = (await create(bench, '/v1/containers', { image: 'busybox', command: ['true'] }, deadline)).result as { id: string; vm: { domainName: string } };
    await bench.api(`/v1/containers/${warm.id}?force=true`, { method: 'DELETE' });
    leaving.push(warm.vm.domainName);
    for (const n of opts.counts) {
      const p = (await create(bench, '/v1/pods', { name: `warm-${n}`, memoryMib: podMibFor(n) }, deadline)).result as { id: string; vm: { domainName: string } };
      await bench.api(`/v1/pods/${p.id}?force=true`, { method: 'DELETE' });
      leaving.push(p.vm.domainName);
    }
    const rows: DensityRow[] = [];
    for (const n of opts.counts) {
      for (const measure of [measurePod, measureVms]) {
        await quiet();
        const t0 = Date.now();
        rows.push(await measure(bench, n, stepBoundMs));
        const r = rows.at(-1)!;
        process.stderr.write(`bench pods: ${r.mode} ${r.reached}/${n} in ${Math.round((Date.now() - t0) / 1000)} s${r.stopped ? ` (${r.stopped})` : ''}\n`);
      }
    }
    const report: PodsBenchReport = { benchmark: 'pods', at: new Date().toISOString(), perContainerMib: PER_CONTAINER_MIB, stepBoundMs, rows };
    const jsonPath = opts.out ?? join(dataPaths(loadConfig().dataDir).bench, 'pods.json');
    await mkdir(dirname(jsonPath), { recursive: true });
    await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
    const text = `${formatTable(['containers', 'placement', 'reached', 'host MiB / container (PSS)', 'start of the Nth, ms', 'quota MiB'], rows.map((x) => [
      x.n, x.mode === 'pod' ? 'one pod' : `${x.n} VMs`, x.stopped ? `${x.reached} (${x.stopped})` : String(x.reached),
      x.hostMibPerContainer === null ? '-' : x.hostMibPerContainer.toFixed(1), x.nthStartMs === null ? '-' : Math.round(x.nthStartMs), x.quotaMib,
    ]))}\n`;
    return { report, text, jsonPath };
  } finally {
    await quiet().catch(() => undefined);
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
