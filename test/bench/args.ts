// Command line of `npm run bench -- fork [options]` and `forkd bench fork`.

export const MODES = ['cold', 'restore', 'fork', 'pool', 'ready-pool'] as const;
export type Mode = (typeof MODES)[number];

export const DEFAULT_RUNS = 20;
export const QUICK_RUNS = 3;
export const DEFAULT_SCALE = [1, 8, 32, 64] as const;
export const QUICK_SCALE = [1, 4] as const;

export interface BenchOptions {
  runs: number;
  quick: boolean;
  modes: Mode[];
  /** Concurrent-clone steps; empty skips the scaling phase. */
  scale: number[];
  /** VMs of each mode kept alive (idle) at the end of its runs for the PSS reading. */
  pssVms: number;
  /** Idle time before memory is read, ms. */
  settleMs: number;
  memoryMib: number;
  vcpus: number;
  /** JSON output path; default `<dataDir>/bench/fork.json`. */
  out: string | null;
  json: boolean;
}

export const BENCH_USAGE =
  'fork [--runs N] [--quick] [--modes cold,restore,fork,pool,ready-pool] [--scale 1,8,32,64|none] [--pss-vms N] [--settle-ms MS] [--out FILE] [--json]';

export class UsageError extends Error {}

function positiveInt(name: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be a whole number ≥ ${min} (got ${JSON.stringify(v)})`);
  return n;
}

export function parseModes(v: string): Mode[] {
  const parts = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of parts) if (!(MODES as readonly string[]).includes(p)) throw new UsageError(`unknown mode ${JSON.stringify(p)} (modes: ${MODES.join(', ')})`);
  if (parts.length === 0) throw new UsageError('--modes needs at least one mode');
  return MODES.filter((m) => parts.includes(m));
}

export function parseScale(v: string): number[] {
  if (v === 'none' || v === '0' || v === '') return [];
  const steps = v.split(',').map((s) => positiveInt('--scale step', s.trim()));
  for (let i = 1; i < steps.length; i++) if (steps[i]! <= steps[i - 1]!) throw new UsageError('--scale steps must increase');
  return steps;
}

/** Options from already-split values (the CLI's parseArgs or our own parser). */
export function benchOptions(values: Record<string, string | boolean | undefined>): BenchOptions {
  const quick = values['quick'] === true;
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const runs = str('runs') !== undefined ? positiveInt('--runs', str('runs')!) : quick ? QUICK_RUNS : DEFAULT_RUNS;
  return {
    runs,
    quick,
    modes: str('modes') !== undefined ? parseModes(str('modes')!) : [...MODES],
    scale: str('scale') !== undefined ? parseScale(str('scale')!) : [...(quick ? QUICK_SCALE : DEFAULT_SCALE)],
    pssVms: str('pss-vms') !== undefined ? positiveInt('--pss-vms', str('pss-vms')!) : quick ? 1 : 3,
    settleMs: str('settle-ms') !== undefined ? positiveInt('--settle-ms', str('settle-ms')!, 0) : quick ? 2000 : 5000,
    memoryMib: 256,
    vcpus: 1,
    out: str('out') ?? null,
    json: values['json'] === true,
  };
}

/** The option table both entry points share (node:util parseArgs format). */
export const BENCH_ARG_OPTIONS = {
  runs: { type: 'string' },
  quick: { type: 'boolean' },
  modes: { type: 'string' },
  scale: { type: 'string' },
  'pss-vms': { type: 'string' },
  'settle-ms': { type: 'string' },
  /** bench pods: each step's bound in minutes. */
  'step-min': { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
} as const;
