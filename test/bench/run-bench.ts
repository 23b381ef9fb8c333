// `npm run bench -- run [--runs N] [--quick] [--out FILE] [--json]`: what a
// user waits for. `forkd run --rm busybox -- sh -c 'echo ready'` through the
// real CLI and API on one stack, per boot mode, timing the client process from
// its start to its first stdout byte (first output: the container's `echo`)
// and to its exit (the whole `run --rm`: create, start, logs, wait, remove).
// The command is `true` plus one shell builtin, so the exit time is
// `forkd run --rm busybox true`'s.
//
// Modes, all on one stack whose template pool starts empty
// (FORKD_POOL_SIZE=0): cold (`--boot cold`), fork (a fresh fork of the
// template), pool (the template's pool resized to 1 through the API; each run
// waits for a ready clone first, so every take finds one, as a user who does
// not start containers back to back would). One warm-up run builds the
// template and is not measured.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { buildBusyboxImage } from '../../images/containers/builders/busybox.js';
import { PACKAGE_ROOT, dataPaths, loadConfig } from '../../services/contracts/config.js';
import { runCli, startStack, type Stack } from '../harness.js';
import { percentile } from './stats.js';
import { formatTable } from './table.js';

export const RUN_MODES = ['cold', 'fork', 'pool'] as const;
export type RunMode = (typeof RUN_MODES)[number];

export interface RunBenchOptions { runs: number; out: string | null; json: boolean }

export interface ModeResult {
  p50_ms: number;
  p95_ms: number;
  first_output_p50_ms: number;
  first_output_p95_ms: number;
  /** ms per run: [first output, exit]. */
  samples: Array<[number, number]>;
}

export interface RunBenchReport {
  benchmark: 'run';
  runs: number;
  at: string;
  command: string[];
  modes: Record<RunMode, ModeResult>;
  /** `runsc run` of the same root filesystem with `true`; null when runsc is not installed. */
  runsc: { p50_ms: number; p95_ms: number } | null;
  goals: { pool_vs_cold: number; pool_p50_ms: number; pool_first_output_p50_ms: number };
}

const COMMAND = ['sh', '-c', 'echo ready'];

/** One CLI process: ms to its first stdout byte and to its exit. */
function timedRun(args: string[], env: NodeJS.ProcessEnv): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = NaN;
    let out = '';
    let err = '';
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'forkd.js'), ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.stdout.on('data', (d: Buffer) => { if (Number.isNaN(first)) first = performance.now() - t0; out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const total = performance.now() - t0;
      if (code !== 0 || !out.includes('ready')) reject(new Error(`forkd ${args.join(' ')} exited ${code}: ${err.trim()}`));
      else resolve([first, total]);
    });
  });
}

interface TemplateRow { id: string; pool: { ready: number } | null }

async function templates(stack: Stack): Promise<TemplateRow[]> {
  const res = await stack.api('/v1/templates');
  if (!res.ok) throw new Error(`GET /v1/templates: HTTP ${res.status}`);
  const body = (await res.json()) as TemplateRow[] | { templates: TemplateRow[] };
  return Array.isArray(body) ? body : body.templates;
}

/** Waits (bounded) until the template's pool has a ready clone. */
async function poolReady(stack: Stack, id: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const res = await stack.api(`/v1/templates/${id}`);
    const t = (await res.json()) as TemplateRow;
    if ((t.pool?.ready ?? 0) > 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`template ${id}: no ready pool clone after 300 s`);
}

export function result(samples: Array<[number, number]>): ModeResult {
  const firsts = samples.map((s) => s[0]);
  const totals = samples.map((s) => s[1]);
  return {
    p50_ms: Math.round(percentile(totals, 50)), p95_ms: Math.round(percentile(totals, 95)),
    first_output_p50_ms: Math.round(percentile(firsts, 50)), first_output_p95_ms: Math.round(percentile(firsts, 95)),
    samples: samples.map(([a, b]) => [Math.round(a), Math.round(b)]),
  };
}

function runscPath(): string | null {
  for (const d of (process.env.PATH ?? '').split(delimiter)) if (d && existsSync(join(d, 'runsc'))) return join(d, 'runsc');
  return null;
}

export async function runRunBench(opts: RunBenchOptions): Promise<{ report: RunBenchReport; text: string; jsonPath: string }> {
  const stack = await startStack({ name: 'bench-run', env: { FORKD_POOL_SIZE: '0' } });
  const work = mkdtempSync(join(tmpdir(), 'forkd-bench-run-'));
  try {
    await buildBusyboxImage(join(work, 'busybox.tar'), {});
    const imp = await runCli(['image', 'import', join(work, 'busybox.tar')], stack.env, { timeoutMs: 300_000 });
    if (imp.code !== 0) throw new Error(`image import failed: ${imp.stderr}`);
    const args = (boot: 'cold' | 'fork') => ['run', '--rm', '--boot', boot, 'busybox', '--', ...COMMAND];
    process.stderr.write('bench run: warm-up (builds the template)\n');
    await timedRun(args('fork'), stack.env);
    const samples: Record<RunMode, Array<[number, number]>> = { cold: [], fork: [], pool: [] };
    for (let i = 0; i < opts.runs; i++) {
      samples.cold.push(await timedRun(args('cold'), stack.env));
      samples.fork.push(await timedRun(args('fork'), stack.env));
      process.stderr.write(`bench run: cold ${Math.round(samples.cold[i]![1])} ms, fork ${Math.round(samples.fork[i]![1])} ms\n`);
    }
    const [tpl] = await templates(stack);
    if (!tpl) throw new Error('no template after the warm-up');
    const patch = await stack.api(`/v1/templates/${tpl.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ poolSize: 1 }) });
    if (!patch.ok) throw new Error(`resizing the pool: HTTP ${patch.status}: ${await patch.text()}`);
    for (let i = 0; i < opts.runs; i++) {
      await poolReady(stack, tpl.id);
      samples.pool.push(await timedRun(args('fork'), stack.env));
      process.stderr.write(`bench run: pool ${Math.round(samples.pool[i]![1])} ms\n`);
    }
    const modes = { cold: result(samples.cold), fork: result(samples.fork), pool: result(samples.pool) };
    const report: RunBenchReport = {
      benchmark: 'run', runs: opts.runs, at: new Date().toISOString(), command: COMMAND, modes,
      runsc: null,
      goals: { pool_vs_cold: Math.round((modes.cold.p50_ms / modes.pool.p50_ms) * 10) / 10, pool_p50_ms: modes.pool.p50_ms, pool_first_output_p50_ms: modes.pool.first_output_p50_ms },
    };
    const runsc = runscPath();
    const jsonPath = opts.out ?? join(dataPaths(loadConfig().dataDir).bench, 'run.json');
    await mkdir(dirname(jsonPath), { recursive: true });
    await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
    return { report, text: runTable(report, runsc), jsonPath };
  } finally {
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

export function runTable(r: RunBenchReport, runsc: string | null): string {
  const rows: Array<Array<string | number>> = RUN_MODES.map((m) => [m, r.modes[m].samples.length, r.modes[m].p50_ms, r.modes[m].p95_ms, r.modes[m].first_output_p50_ms, r.modes[m].first_output_p95_ms]);
  const table = formatTable(['forkd run --rm busybox true', 'n', 'p50 ms', 'p95 ms', 'first output p50 ms', 'first output p95 ms'], rows);
  const note = runsc === null ? 'runsc (gVisor) is not installed on this host: no reference row.' : `runsc found at ${runsc}: the reference row is not implemented yet.`;
  const g = r.goals;
  return `${table}\n\npool vs cold: ${g.pool_vs_cold}× (goal ≥ 10×); pool p50 ${g.pool_p50_ms} ms (goal ≤ 1000); pool first output p50 ${g.pool_first_output_p50_ms} ms (goal ≤ 500)\n${note}\n`;
}
