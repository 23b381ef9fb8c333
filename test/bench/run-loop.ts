// The loop every mode runs: `runs` iterations, a progress line each, a failed
// run recorded (and the mode given up after three failures in a row), and an
// early stop on Ctrl-C.

import type { ModeResult } from './samples.js';
import type { BenchContext } from './setup.js';

export const MAX_FAILURES_IN_A_ROW = 3;

export async function runLoop(ctx: BenchContext, r: ModeResult, once: (i: number) => Promise<void>, runs = ctx.opts.runs): Promise<void> {
  let failuresInARow = 0;
  for (let i = 0; i < runs; i++) {
    if (ctx.cleanup.interrupted) throw new Error('interrupted');
    const before = r.samples.length;
    try {
      await once(i);
      failuresInARow = 0;
      const s = r.samples[r.samples.length - 1];
      if (r.samples.length > before && s) {
        const net = s.steps['network'] === undefined ? '' : `, network ${s.steps['network']} ms`;
        ctx.say(`  ${r.label} ${i + 1}/${runs}: ready ${s.readyMs} ms${net}, first output ${s.firstOutputMs} ms (load ${s.load1})${s.note ? ` — ${s.note}` : ''}`);
      }
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      r.errors.push(`run ${i + 1}: ${msg}`);
      ctx.say(`  ${r.label} ${i + 1}/${runs}: FAILED: ${msg.split('\n')[0]}`);
      if (ctx.cleanup.interrupted) throw err;
      if (++failuresInARow >= MAX_FAILURES_IN_A_ROW) {
        r.errors.push(`gave up after ${MAX_FAILURES_IN_A_ROW} failures in a row`);
        return;
      }
    }
  }
}
