// `npm run bench -- run [--runs N] [--quick] [--out FILE] [--json]`: what a
// user waits for. `forkd run --rm busybox -- sh -c 'echo ready'` through the
// real CLI and API on one stack, per boot mode, timing the client process from
// its start to its first stdout byte (first output: the container's `echo`)
// and to its exit (the whole `run --rm`: create, start, logs, wait, remove).
// The command is `true` plus one shell builtin, so the exit time is
// `forkd run --rm busybox true`'s.
//
// Modes, on a stack whose template pool starts empty (FORKD_POOL_SIZE=0):
// cold (`--boot cold`), fork (a fresh fork of the template), pool (the
// template's pool resized to 1 through the API, FORKD_POOL_MODE=shell; each
// run waits for a ready clone first, so every take finds one, as a user who
// does not start containers back to back would). ready-pool is the same on a
// second stack with FORKD_POOL_MODE=ready (its clones run, identified and
// rehearsed, before the take), started after the first stops so the two pools
// never idle side by side. One warm-up run per stack builds or loads the
// template and is not measured.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildBusyboxImage } from '../../images/containers/builders/busybox.js';
import { PACKAGE_ROOT, dataPaths, loadConfig } from '../../services/contracts/config.js';
import { runCli, startStack, type Stack } from '../harness.js';
import { idleCost, poolDomain, type IdleCost } from './idle-cost.js';
import { domainArgv, findPoolShell, measureFloor, type FloorResult } from './qemu-floor.js';
import { removalResult, timedRemoval, type RemovalResult } from './removal.js';
import { lastRunPhases, phaseP50s, PHASE_KEYS, type RunPhases } from './run-phases.js';
import { ensureRunsc, runscBundle, timedRunsc, RUNSC_FLAGS } from './runsc.js';
import { percentile } from './stats.js';
import { formatTable } from './table.js';
import { timedProcess } from './timed-process.js';

export const RUN_MODES = ['cold', 'fork', 'pool', 'ready-pool'] as const;
export type RunMode = (typeof RUN_MODES)[number];

export interface RunBenchOptions { runs: number; out: string | null; json: boolean; modes?: readonly RunMode[] }

export interface ModeResult {
  p50_ms: number;
  p95_ms: number;
  first_output_p50_ms: number;
  first_output_p95_ms: number;
  /** ms per run: [first output, exit]. */
  samples: Array<[number, number]>;
  /** p50 of where request → first output went (run-phases.ts), when the runs' operations could be read. */
  phases_p50_ms?: Record<string, number>;
  /** Each run's phases (null where its operation could not be read), in run order. */
  phases?: Array<RunPhases | null>;
}

export interface RunBenchReport {
  benchmark: 'run';
  runs: number;
  at: string;
  command: string[];
  modes: Partial<Record<RunMode, ModeResult>>;
  /** `runsc run` of the same root filesystem with the same command; null when runsc is not installed. */
  runsc: (ModeResult & { flags: string[] }) | null;
  /** Bare QEMU restores of the pool's template in the same run (qemu-floor.ts); null without the pool mode. */
  floor: FloorResult | null;
  /** 1-minute load average before and after the runs (other work on the host shows here). */
  load1: { start: number; end: number };
  /** What the idle pool clone costs after the takes, per pool mode (idle-cost.ts). */
  idle: Partial<Record<'pool' | 'ready-pool', IdleCost>>;
  /** DELETE of an exited pool container, request to answer, per pool mode (removal.ts). */
  removal: Partial<Record<'pool' | 'ready-pool', RemovalResult>>;
  /** Issue 9's goals for each pool mode measured (`pool`: shell, `ready-pool`: ready). */
  goals: Partial<Record<'pool' | 'ready-pool', PoolGoals>>;
}

export interface PoolGoals { vs_cold: number | null; p50_ms: number; first_output_p50_ms: number; ready_vs_floor: number | null; removal_p50_ms: number | null }

const COMMAND = ['sh', '-c', 'echo ready'];

/** One CLI process: ms to its first stdout byte and to its exit, and its start (epoch ms). */
function timedRun(args: string[], env: NodeJS.ProcessEnv, started: { epochMs: number } = { epochMs: 0 }): Promise<[number, number]> {
  started.epochMs = Date.now();
  return timedProcess(process.execPath, [join(PACKAGE_ROOT, 'bin', 'forkd.js'), ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, expect: 'ready', timeoutMs: 600_000,
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

export function result(samples: Array<[number, number]>, phases: readonly (RunPhases | null)[] = []): ModeResult {
  const firsts = samples.map((s) => s[0]);
  const totals = samples.map((s) => s[1]);
  return {
    p50_ms: Math.round(percentile(totals, 50)), p95_ms: Math.round(percentile(totals, 95)),
    first_output_p50_ms: Math.round(percentile(firsts, 50)), first_output_p95_ms: Math.round(percentile(firsts, 95)),
    samples: samples.map(([a, b]) => [Math.round(a), Math.round(b)]),
    ...(phases.some((p) => p !== null) ? { phases_p50_ms: phaseP50s(phases), phases: [...phases] } : {}),
  };
}

function virsh(args: string[]): string {
  return spawnSync('virsh', args, { encoding: 'utf8' }).stdout ?? '';
}

type Samples = Record<RunMode, Array<[number, number]>>;
type Phases = Record<RunMode, Array<RunPhases | null>>;

/** A stack with the busybox image imported and its template built by one unmeasured run. */
async function benchStack(name: string, env: NodeJS.ProcessEnv, tar: string): Promise<Stack> {
  const stack = await startStack({ name, env: { FORKD_POOL_SIZE: '0', ...env } });
  try {
    const imp = await runCli(['image', 'import', tar], stack.env, { timeoutMs: 300_000 });
    if (imp.code !== 0) throw new Error(`image import failed: ${imp.stderr}`);
    process.stderr.write(`bench run: warm-up on ${name} (builds or loads the template)\n`);
    await timedRun(runArgs('fork'), stack.env);
    return stack;
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

const runArgs = (boot: 'cold' | 'fork') => ['run', '--rm', '--boot', boot, 'busybox', '--', ...COMMAND];

/** One measured `forkd run --rm` on `stack`, its samples and phases kept under `mode`. */
async function measured(stack: Stack, mode: RunMode, boot: 'cold' | 'fork', samples: Samples, phases: Phases): Promise<[number, number]> {
  const started = { epochMs: 0 };
  const s = await timedRun(runArgs(boot), stack.env, started);
  samples[mode].push(s);
  phases[mode].push(await lastRunPhases(stack, started.epochMs, s[0]).catch(() => null));
  return s;
}

/** Resizes the stack's template pool to 1 and takes from it `runs` times, each after a clone is ready. */
async function poolTakes(stack: Stack, mode: RunMode, runs: number, samples: Samples, phases: Phases): Promise<string> {
  const [tpl] = await templates(stack);
  if (!tpl) throw new Error('no template after the warm-up');
  const patch = await stack.api(`/v1/templates/${tpl.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ poolSize: 1 }) });
  if (!patch.ok) throw new Error(`resizing the pool: HTTP ${patch.status}: ${await patch.text()}`);
  for (let i = 0; i < runs; i++) {
    await poolReady(stack, tpl.id);
    const s = await measured(stack, mode, 'fork', samples, phases);
    process.stderr.write(`bench run: ${mode} ${Math.round(s[1])} ms\n`);
  }
  return tpl.id;
}

/** `runs` removals of an exited container, each taken from a ready pool as the runs before it were. */
async function removals(stack: Stack, mode: 'pool' | 'ready-pool', tplId: string, runs: number): Promise<RemovalResult> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    await poolReady(stack, tplId);
    ms.push(await timedRemoval(stack));
    process.stderr.write(`bench run: ${mode} removal ${Math.round(ms[ms.length - 1]!)} ms\n`);
  }
  return removalResult(ms);
}

const IDLE_SETTLE_MS = 5_000;
const IDLE_WINDOW_MS = 20_000;

/** The pool clone's CPU and PSS while it idles, once it is ready and has settled. */
async function idleClone(stack: Stack, tplId: string): Promise<IdleCost | null> {
  await poolReady(stack, tplId);
  await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
  const dom = poolDomain(stack.dataDir, virsh(['list', '--name']).split('\n').map((l) => l.trim()).filter(Boolean), domainArgv);
  if (!dom) { process.stderr.write('bench run: idle cost: no pool clone found\n'); return null; }
  const cost = await idleCost(dom, IDLE_WINDOW_MS);
  process.stderr.write(`bench run: idle pool clone: ${cost.cpuPercent}% CPU, PSS ${cost.pssMib} MiB\n`);
  return cost;
}

/** The raw-QEMU floor, one restore at a time, each beside an idle pool shell (after the takes: see below). */
async function floorRuns(stack: Stack, tplId: string, runs: number, work: string): Promise<FloorResult | null> {
  const out: FloorResult[] = [];
  for (let i = 0; i < runs; i++) {
    await poolReady(stack, tplId);
    const shell = findPoolShell(stack.dataDir, virsh(['list', '--name']).split('\n').map((l) => l.trim()).filter(Boolean), (n) => virsh(['domstate', n]).trim() === 'paused');
    if (!shell) { process.stderr.write('bench run: floor: no idle pool shell found\n'); break; }
    const f = await measureFloor({ ...shell, dir: work, runs: 1 }).catch((err: unknown) => { process.stderr.write(`bench run: floor failed: ${(err as Error).message}\n`); return null; });
    if (!f) break;
    out.push(f);
    process.stderr.write(`bench run: floor ${f.samples[0]!.totalMs} ms (restore ${f.p50_ms.restoreMs})\n`);
  }
  return out.length === 0 ? null : mergeFloor(out);
}

export function poolGoals(results: Partial<Record<RunMode, ModeResult>>, mode: 'pool' | 'ready-pool', floor: FloorResult | null, removal?: RemovalResult): PoolGoals | undefined {
  const pool = results[mode];
  if (!pool) return undefined;
  const readyMs = pool.phases_p50_ms?.['readyMs'];
  return {
    vs_cold: results.cold ? Math.round((results.cold.p50_ms / pool.p50_ms) * 10) / 10 : null,
    p50_ms: pool.p50_ms, first_output_p50_ms: pool.first_output_p50_ms,
    ready_vs_floor: readyMs !== undefined && floor ? Math.round((readyMs / floor.p50_ms.restoreMs) * 10) / 10 : null,
    removal_p50_ms: removal?.p50_ms ?? null,
  };
}

export async function runRunBench(opts: RunBenchOptions): Promise<{ report: RunBenchReport; text: string; jsonPath: string }> {
  const work = mkdtempSync(join(tmpdir(), 'forkd-bench-run-'));
  const tar = join(work, 'busybox.tar');
  const modes = opts.modes ?? RUN_MODES;
  const samples: Samples = { cold: [], fork: [], pool: [], 'ready-pool': [] };
  const phases: Phases = { cold: [], fork: [], pool: [], 'ready-pool': [] };
  try {
    await buildBusyboxImage(tar, {});
    const load1Start = loadavg()[0]!;
    let floor: FloorResult | null = null;
    const idle: RunBenchReport['idle'] = {};
    const removal: RunBenchReport['removal'] = {};
    if (modes.some((m) => m !== 'ready-pool')) {
      const stack = await benchStack('bench-run', { FORKD_POOL_MODE: 'shell' }, tar);
      try {
        for (let i = 0; i < opts.runs && (modes.includes('cold') || modes.includes('fork')); i++) {
          const line: string[] = [];
          if (modes.includes('cold')) line.push(`cold ${Math.round((await measured(stack, 'cold', 'cold', samples, phases))[1])} ms`);
          if (modes.includes('fork')) line.push(`fork ${Math.round((await measured(stack, 'fork', 'fork', samples, phases))[1])} ms`);
          process.stderr.write(`bench run: ${line.join(', ')}\n`);
        }
        // The floor after the takes (not between them, which would change what each take runs beside: the previous
        // run's teardown), on the same stack with the pool's shell idle.
        if (modes.includes('pool')) {
          const tplId = await poolTakes(stack, 'pool', opts.runs, samples, phases);
          removal.pool = await removals(stack, 'pool', tplId, opts.runs);
          floor = await floorRuns(stack, tplId, opts.runs, work);
          const cost = await idleClone(stack, tplId);
          if (cost) idle.pool = cost;
        }
      } finally {
        await stack.stop();
      }
    }
    if (modes.includes('ready-pool')) {
      const stack = await benchStack('bench-run-ready', { FORKD_POOL_MODE: 'ready' }, tar);
      try {
        const tplId = await poolTakes(stack, 'ready-pool', opts.runs, samples, phases);
        removal['ready-pool'] = await removals(stack, 'ready-pool', tplId, opts.runs);
        const cost = await idleClone(stack, tplId);
        if (cost) idle['ready-pool'] = cost;
      } finally {
        await stack.stop();
      }
    }
    const results: Partial<Record<RunMode, ModeResult>> = {};
    for (const m of modes) results[m] = result(samples[m], phases[m]);
    let runscRow: RunBenchReport['runsc'] = null;
    const runsc = ensureRunsc();
    if (runsc) {
      const bundle = await runscBundle(runsc, join(work, 'runsc'), COMMAND);
      const rs: Array<[number, number]> = [];
      for (let i = 0; i < opts.runs; i++) rs.push(await timedRunsc(runsc, bundle, `forkd-bench-${process.pid}-${i}`, 'ready'));
      runscRow = { ...result(rs), flags: RUNSC_FLAGS };
    }
    const goals: RunBenchReport['goals'] = {};
    for (const m of ['pool', 'ready-pool'] as const) { const g = poolGoals(results, m, floor, removal[m]); if (g) goals[m] = g; }
    const report: RunBenchReport = {
      benchmark: 'run', runs: opts.runs, at: new Date().toISOString(), command: COMMAND, modes: results,
      runsc: runscRow, floor, idle, removal, load1: { start: load1Start, end: loadavg()[0]! }, goals,
    };
    const jsonPath = opts.out ?? join(dataPaths(loadConfig().dataDir).bench, 'run.json');
    await mkdir(dirname(jsonPath), { recursive: true });
    await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
    return { report, text: runTable(report), jsonPath };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function mergeFloor(runs: FloorResult[]): FloorResult {
  const samples = runs.flatMap((r) => r.samples);
  const p = (f: (s: FloorResult['samples'][number]) => number) => Math.round(percentile(samples.map(f), 50));
  return {
    runs: samples.length, samples,
    p50_ms: { spawnMs: p((s) => s.spawnMs), incomingMs: p((s) => s.incomingMs), resumeMs: p((s) => s.resumeMs), agentReadyMs: p((s) => s.agentReadyMs), totalMs: p((s) => s.totalMs), restoreMs: p((s) => s.incomingMs + s.resumeMs + s.agentReadyMs) },
  };
}

const PHASE_TITLES: Record<string, string> = {
  cliMs: 'CLI start + POST', opMs: 'create operation', forkTotalMs: '  fork (VM)', readyMs: '    to agent-ready', identityMs: '    identity.set',
  networkMs: '  network', imageImportMs: '  image', containerCreateMs: '  container create', containerStartMs: '  container start', afterMs: 'operation end → first output',
};

export function runTable(r: RunBenchReport): string {
  const modes = RUN_MODES.filter((m) => r.modes[m]);
  const rows: Array<Array<string | number>> = modes.map((m) => { const x = r.modes[m]!; return [m, x.samples.length, x.p50_ms, x.p95_ms, x.first_output_p50_ms, x.first_output_p95_ms]; });
  if (r.runsc) rows.push([`runsc run (${r.runsc.flags.join(' ')})`, r.runsc.samples.length, r.runsc.p50_ms, r.runsc.p95_ms, r.runsc.first_output_p50_ms, r.runsc.first_output_p95_ms]);
  const table = formatTable(['forkd run --rm busybox true', 'n', 'p50 ms', 'p95 ms', 'first output p50 ms', 'first output p95 ms'], rows);
  const withPhases = modes.filter((m) => r.modes[m]!.phases_p50_ms);
  const keys = ['cliMs', 'opMs', 'forkTotalMs', 'readyMs', 'identityMs', 'networkMs', 'imageImportMs', 'containerCreateMs', 'containerStartMs', 'afterMs'].filter((k) => (PHASE_KEYS as readonly string[]).includes(k) || k === 'readyMs');
  // How many runs' creates took the container the ready pool held ahead (hostd's containerHeld timing).
  const heldRow = ['  of which took a held container', ...withPhases.map((m) => {
    const ps = (r.modes[m]!.phases ?? []).filter((p): p is RunPhases => p !== null);
    return `${ps.filter((p) => p.timings['containerHeld'] === 1).length}/${ps.length}`;
  })];
  const phaseTable = withPhases.length === 0 ? '' : '\n\nrequest → first output, p50 ms per step:\n' + formatTable(['step', ...withPhases], [...keys.map((k) => [PHASE_TITLES[k] ?? k, ...withPhases.map((m) => r.modes[m]!.phases_p50_ms![k] ?? null)]), heldRow]);
  const f = r.floor;
  const floorText = f === null ? '' : `\n\nraw-QEMU floor (same template, no libvirt), ${f.runs} runs, p50 ms: spawn ${f.p50_ms.spawnMs}, device state ${f.p50_ms.incomingMs}, resume ${f.p50_ms.resumeMs}, agent ${f.p50_ms.agentReadyMs}; total ${f.p50_ms.totalMs}, restore (state + resume + agent) ${f.p50_ms.restoreMs}`;
  const note = r.runsc === null ? '\nrunsc (gVisor) is not installed on this host: no reference row.' : '';
  const goals = (['pool', 'ready-pool'] as const).flatMap((m) => {
    const g = r.goals[m];
    if (!g) return [];
    return [[
      g.vs_cold === null ? null : `${m} vs cold: ${g.vs_cold}× (goal ≥ 10×)`,
      `${m} p50 ${g.p50_ms} ms (goal ≤ 1000)`,
      `${m} first output p50 ${g.first_output_p50_ms} ms (goal ≤ 500)`,
      g.ready_vs_floor === null ? null : `${m} take to agent-ready / floor restore: ${g.ready_vs_floor}× (goal ≤ 2×)`,
      g.removal_p50_ms === null ? null : `${m} removal p50 ${g.removal_p50_ms} ms (goal ≤ 100)`,
    ].filter((x) => x !== null).join('; ')];
  }).join('\n');
  const idleText = (['pool', 'ready-pool'] as const).flatMap((m) => {
    const c = r.idle[m];
    return c ? [`idle ${m} clone over ${Math.round(c.windowMs / 1000)} s: ${c.cpuPercent}% of one core, PSS ${c.pssMib} MiB`] : [];
  }).join('\n');
  return `${table}${phaseTable}${floorText}${idleText ? `\n\n${idleText}` : ''}\n\n${goals}${note}\nload (1 min): ${r.load1.start.toFixed(1)} at the start, ${r.load1.end.toFixed(1)} at the end\n`;
}
