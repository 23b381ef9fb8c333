import { describe, expect, it } from 'vitest';
import { result, runTable, type RunBenchReport } from './run-bench.js';

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
      modes: { cold: m(10000), fork: m(2000), pool: m(800) }, runsc: null, floor: null, load1: { start: 1, end: 1 },
      goals: { pool_vs_cold: 12.5, pool_p50_ms: 800, pool_first_output_p50_ms: 400, pool_ready_vs_floor: null },
    };
    const text = runTable(report);
    for (const mode of ['cold', 'fork', 'pool']) expect(text).toMatch(new RegExp(`^${mode}\\s`, 'm'));
    expect(text).toContain('pool vs cold: 12.5×');
    expect(text).toContain('runsc (gVisor) is not installed');
    const withRunsc = runTable({ ...report, runsc: { ...m(120), flags: ['--network=none'] } });
    expect(withRunsc).not.toContain('not installed');
    expect(withRunsc).toMatch(/^runsc run \(--network=none\)\s/m);
  });
});
