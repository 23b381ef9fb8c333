import { describe, expect, it } from 'vitest';
import { removalResult } from './removal.js';
import { poolGoals, result, runTable, type RunBenchReport } from './run-bench.js';

describe('bench run', () => {
  it('summarizes each mode by its exit and first-output times (nearest rank, measured samples only)', () => {
    const r = result([[400, 900], [100, 300], [250, 700]]);
    expect(r).toMatchObject({ p50_ms: 700, p95_ms: 900, first_output_p50_ms: 250, first_output_p95_ms: 400 });
    expect(r.samples).toEqual([[400, 900], [100, 300], [250, 700]]);
  });

  it('prints one row per mode, the goals, and says when there is no runsc to compare with', () => {
    const m = (p50: number) => ({ ...result([[p50 / 2, p50]]) });
    const report: RunBenchReport = {
      benchmark: 'run', runs: 1, at: '2026-12-01T00:00:00Z', command: ['true'],
      modes: { cold: m(10000), fork: m(2000), pool: m(800) }, runsc: null, floor: null, idle: { 'ready-pool': { windowMs: 20_000, cpuPercent: 3.5, pssMib: 150 } }, removal: {}, load1: { start: 1, end: 1 },
      goals: { pool: { vs_cold: 12.5, p50_ms: 800, first_output_p50_ms: 400, ready_vs_floor: null, removal_p50_ms: 60 } },
    };
    const text = runTable(report);
    for (const mode of ['cold', 'fork', 'pool']) expect(text).toMatch(new RegExp(`^${mode}\\s`, 'm'));
    expect(text).toContain('pool vs cold: 12.5×');
    expect(text).toContain('pool removal p50 60 ms (goal ≤ 100)');
    expect(text).toContain('idle ready-pool clone over 20 s: 3.5% of one core, PSS 150 MiB');
    expect(text).toContain('runsc (gVisor) is not installed');
    const withRunsc = runTable({ ...report, runsc: { ...m(120), flags: ['--network=none'] } });
    expect(withRunsc).not.toContain('not installed');
    expect(withRunsc).toMatch(/^runsc run \(--network=none\)\s/m);
  });

  it('states the goals per pool mode: against cold in the same run, and take-to-agent-ready against the floor', () => {
    const cold = result([[5000, 10000]]);
    const ready = { ...result([[300, 900]]), phases_p50_ms: { readyMs: 40 } };
    const floor = { runs: 1, samples: [], p50_ms: { spawnMs: 100, incomingMs: 10, resumeMs: 5, agentReadyMs: 25, totalMs: 140, restoreMs: 40 } };
    expect(poolGoals({ cold, 'ready-pool': ready }, 'ready-pool', floor, removalResult([80, 40, 120]))).toEqual({ vs_cold: 11.1, p50_ms: 900, first_output_p50_ms: 300, ready_vs_floor: 1, removal_p50_ms: 80 });
    expect(poolGoals({ cold }, 'pool', floor)).toBeUndefined();
    expect(poolGoals({ 'ready-pool': ready }, 'ready-pool', null)).toMatchObject({ vs_cold: null, ready_vs_floor: null, removal_p50_ms: null });
  });
});
