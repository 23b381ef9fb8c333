// `forkd bench fork`: the fork benchmark (test/bench/) on this host, in this
// process: cold boot, save/restore, fork and pool take, then concurrent clones.
// Needs libvirtd and a built tree (`npm run build`); see docs/benchmarks.md.
import { BENCH_ARG_OPTIONS } from '../../../test/bench/args.js';
import type { Command } from '../command.js';
import { ForkdError } from '../../contracts/errors.js';

export const benchForkCommand: Command = {
  path: ['bench', 'fork'],
  summary: 'Measure cold boot, save/restore, fork and pool take, and clone density on this host (writes var/bench/fork.json)',
  usage: 'forkd bench fork [--runs N] [--quick] [--modes cold,restore,fork,pool,ready-pool] [--scale 1,8,32,64|none] [--pss-vms N] [--settle-ms MS] [--out FILE] [--json]',
  // The same option table as `npm run bench -- fork` (test/bench/args.ts has no heavy imports).
  options: BENCH_ARG_OPTIONS,
  async run({ values }) {
    const { benchOptions, UsageError } = await import('../../../test/bench/args.js');
    let opts;
    try {
      opts = benchOptions(values as Record<string, string | boolean | undefined>);
    } catch (err) {
      if (err instanceof UsageError) throw new ForkdError('ERR_VALIDATION', `${err.message}\nusage: ${benchForkCommand.usage}`);
      throw err;
    }
    const { runForkBench } = await import('../../../test/bench/fork-bench.js');
    const run = await runForkBench(opts);
    process.stdout.write(opts.json ? JSON.stringify(run.report, null, 2) + '\n' : run.text);
    process.stderr.write(`forkd: wrote ${run.jsonPath}\n`);
    return 0;
  },
};
