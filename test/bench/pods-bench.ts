// `npm run bench -- pods [--scale 1,8,32] [--out FILE] [--json]`: density of
// pods against one-container VMs, in the same run on one stack. For each N:
// N idle busybox containers in one pod, then N idle busybox containers each in
// its own VM forked from the same busybox template; for both, the host memory
// per container (the QEMU processes' PSS, summed, over N) and the time to
// start the Nth container (its create, request to running). Creates run one
// after another, so the Nth sees N-1 already running. Host memory is PSS, so
// pages the clones share with their template count once over all of them.
import { mkdir, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildBusyboxImage } from '../../images/containers/builders/busybox.js';
import { dataPaths, loadConfig } from '../../services/contracts/config.js';
import { runCli, settled, startStack, type Stack } from '../harness.js';
import { domainPss } from './smaps.js';
import { formatTable } from './table.js';

export interface PodsBenchOptions { counts: number[]; out: string | null; json: boolean }

export interface DensityRow {
  n: number;
  mode: 'pod' | 'vms';
  /** Sum of the QEMU processes' PSS over n, MiB. */
  hostMibPerContainer: number;
  /** ms from POST /v1/containers to the Nth container running. */
  nthStartMs: number;
  /** Guest memory the tenant's quota counts, MiB. */
  quotaMib: number;
}

export interface PodsBenchReport { benchmark: 'pods'; at: string; perContainerMib: number; rows: DensityRow[] }

/** The whole run stops (and cleans up what it made) past this: 32 forked VMs under TCG take minutes, a stuck create must not take hours. */
const RUN_BOUND_MS = 45 * 60_000;
let deadline = Number.POSITIVE_INFINITY;

/** Each container's limit in a pod; the pod is sized to hold N of them. */
const PER_CONTAINER_MIB = 16;
const IDLE = ['sh', '-c', 'while true; do sleep 60; done'];

async function json<T>(res: Response, what: string): Promise<T> {
  if (res.status >= 300) throw new Error(`${what}: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function create(stack: Stack, path: string, body: object): Promise<{ ms: number; result: unknown }> {
  if (Date.now() > deadline) throw new Error(`bench pods: past its ${RUN_BOUND_MS / 60_000} min bound; stopped`);
  const t0 = performance.now();
  const res = await settled(stack, await stack.api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
  const result = await json<unknown>(res, `POST ${path}`);
  return { ms: performance.now() - t0, result };
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

async function measurePod(stack: Stack, n: number): Promise<DensityRow> {
  const memoryMib = podMibFor(n);
  const pod = (await create(stack, '/v1/pods', { name: `bench-${n}`, memoryMib, pids: 1024 })).result as { id: string; vm: { domainName: string } };
  try {
    let nth = 0;
    for (let i = 0; i < n; i++) {
      nth = (await create(stack, '/v1/containers', { image: 'busybox', command: IDLE, pod: pod.id, memoryMib: PER_CONTAINER_MIB, pids: 16 })).ms;
    }
    return { n, mode: 'pod', hostMibPerContainer: (await pssMib([pod.vm.domainName])) / n, nthStartMs: nth, quotaMib: memoryMib };
  } finally {
    await stack.api(`/v1/pods/${pod.id}?force=true`, { method: 'DELETE' }); // by id, also when a create failed
  }
}

async function measureVms(stack: Stack, n: number): Promise<DensityRow> {
  const made: Array<{ id: string; vm: { domainName: string; memoryMib: number } }> = [];
  try {
    let nth = 0;
    for (let i = 0; i < n; i++) {
      const c = await create(stack, '/v1/containers', { image: 'busybox', command: IDLE, memoryMib: PER_CONTAINER_MIB });
      made.push(c.result as (typeof made)[number]);
      nth = c.ms;
    }
    return {
      n, mode: 'vms', hostMibPerContainer: (await pssMib(made.map((c) => c.vm.domainName))) / n, nthStartMs: nth,
      quotaMib: made.reduce((s, c) => s + c.vm.memoryMib, 0),
    };
  } finally {
    for (const c of made) await stack.api(`/v1/containers/${c.id}?force=true`, { method: 'DELETE' }); // by id, also when a create failed
  }
}

export async function runPodsBench(opts: PodsBenchOptions): Promise<{ report: PodsBenchReport; text: string; jsonPath: string }> {
  deadline = Date.now() + RUN_BOUND_MS;
  const stack = await startStack({ name: 'bench-pods', env: { FORKD_POOL_SIZE: '0' } });
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
    const warm = (await create(bench, '/v1/containers', { image: 'busybox', command: ['true'] })).result as { id: string };
    await bench.api(`/v1/containers/${warm.id}?force=true`, { method: 'DELETE' });
    for (const n of opts.counts) {
      const p = (await create(bench, '/v1/pods', { name: `warm-${n}`, memoryMib: podMibFor(n) })).result as { id: string };
      await bench.api(`/v1/pods/${p.id}?force=true`, { method: 'DELETE' });
    }
    const rows: DensityRow[] = [];
    for (const n of opts.counts) {
      rows.push(await measurePod(bench, n));
      rows.push(await measureVms(bench, n));
    }
    const report: PodsBenchReport = { benchmark: 'pods', at: new Date().toISOString(), perContainerMib: PER_CONTAINER_MIB, rows };
    const jsonPath = opts.out ?? join(dataPaths(loadConfig().dataDir).bench, 'pods.json');
    await mkdir(dirname(jsonPath), { recursive: true });
    await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
    const text = `${formatTable(['containers', 'placement', 'host MiB / container (PSS)', 'start of the Nth, ms', 'quota MiB'], rows.map((x) => [
      x.n, x.mode === 'pod' ? 'one pod' : `${x.n} VMs`, x.hostMibPerContainer.toFixed(1), Math.round(x.nthStartMs), x.quotaMib,
    ]))}\n`;
    return { report, text, jsonPath };
  } finally {
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
