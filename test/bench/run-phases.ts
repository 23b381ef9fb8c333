// Where one `forkd run --rm` went, read back from the API after the run: the
// container.create operation's row (created → finished, in the API's clock,
// which is this process's: the bench runs the stack in-process) and the
// timings hostd put in its result (fork, network, image, container create and
// start). With the CLI's own start time this splits request → first output:
//   cli: CLI start → operation row created (node start, POST);
//   op: the create itself, queue → hostd → VM → container started;
//   after: operation finished → first stdout byte (the CLI's last long-poll
//   answer, the log stream's job and relay).
import type { Stack } from '../harness.js';
import { percentile } from './stats.js';

export interface RunPhases {
  cliMs: number;
  opMs: number;
  afterMs: number;
  /** hostd's create timings (vm.timings of the operation's result). */
  timings: Record<string, number>;
}

interface OpRow { kind: string; createdAt: string; finishedAt: string | null; result?: { vm?: { timings?: Record<string, number> } } }

/** The newest container.create operation, split against the CLI's start (epoch ms) and its first output (ms after it). */
export async function lastRunPhases(stack: Stack, cliStartEpochMs: number, firstOutputMs: number): Promise<RunPhases | null> {
  const res = await stack.api('/v1/operations');
  if (!res.ok) return null;
  const body = (await res.json()) as OpRow[] | { operations: OpRow[] };
  const ops = Array.isArray(body) ? body : body.operations;
  const op = ops.find((o) => o.kind === 'container.create');
  if (!op?.finishedAt) return null;
  const created = Date.parse(op.createdAt);
  const finished = Date.parse(op.finishedAt);
  return {
    cliMs: created - cliStartEpochMs,
    opMs: finished - created,
    afterMs: cliStartEpochMs + firstOutputMs - finished,
    timings: op.result?.vm?.timings ?? {},
  };
}

/** The phases worth a column, in path order (hostd's names). */
export const PHASE_KEYS = ['cliMs', 'opMs', 'forkTotalMs', 'identityMs', 'networkMs', 'imageImportMs', 'containerCreateMs', 'containerStartMs', 'afterMs'] as const;

/** p50 of each phase over the runs that have it. */
export function phaseP50s(runs: readonly (RunPhases | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of PHASE_KEYS) {
    const xs = runs.flatMap((r) => {
      if (!r) return [];
      const v = k === 'cliMs' || k === 'opMs' || k === 'afterMs' ? r[k] : r.timings[k];
      return typeof v === 'number' ? [v] : [];
    });
    if (xs.length > 0) out[k] = Math.round(percentile(xs, 50));
  }
  // Request to agent-ready inside hostd (a pool take: claim, device state, resume, agent): the fork minus identity.set.
  const ready = runs.flatMap((r) => (r && typeof r.timings['forkTotalMs'] === 'number' ? [r.timings['forkTotalMs'] - (r.timings['identityMs'] ?? 0)] : []));
  if (ready.length > 0) out['readyMs'] = Math.round(percentile(ready, 50));
  return out;
}
