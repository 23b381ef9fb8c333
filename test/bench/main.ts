// `npm run bench -- fork [options]`: runs a benchmark by name. libvirt calls
// run on libuv's pool, which libuv sizes on first use: set it before anything
// else, then load the benchmark.
process.env.UV_THREADPOOL_SIZE ??= '16';

const { parseArgs } = await import('node:util');
const { BENCH_ARG_OPTIONS, BENCH_USAGE, benchOptions, UsageError } = await import('./args.js');

const USAGE = `usage: npm run bench -- ${BENCH_USAGE}\n       npm run bench -- docker [--runs N] [--quick] [--out FILE] [--json]\n       npm run bench -- pods [--scale 1,8,32] [--step-min M] [--out FILE] [--json]\n       npm run bench -- run [--runs N] [--quick] [--modes cold,fork,pool,ready-pool] [--out FILE] [--json]\n       npm run bench -- desktop [--runs N] [--out FILE] [--json]\n       npm run bench -- live-fork [--mib N] [--runs N] [--scale 1,8,32]`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'live-fork') {
    // Options of its own (--mib, --scale 1,8,32): live-fork-bench.ts parses them.
    const { runLiveForkBench } = await import('./live-fork-bench.js');
    const run = await runLiveForkBench(argv.slice(1));
    process.stdout.write(run.text);
    process.stderr.write(`bench: wrote ${run.jsonPath}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...BENCH_ARG_OPTIONS, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [name, ...rest] = parsed.positionals;
  if ((name !== 'fork' && name !== 'docker' && name !== 'pods' && name !== 'run' && name !== 'desktop') || rest.length > 0) {
    process.stderr.write(`bench: unknown benchmark ${JSON.stringify(parsed.positionals.join(' '))} (benchmarks: fork, docker, pods, run, desktop, live-fork)\n${USAGE}\n`);
    return 2;
  }
  let opts;
  try {
    opts = benchOptions(parsed.values);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (name === 'pods') {
    // N containers in one pod against N one-container VMs (pods-bench.ts); --scale gives the Ns (default 1,8,32).
    const { runPodsBench } = await import('./pods-bench.js');
    const counts = (parsed.values.scale ?? '1,8,32').split(',').map(Number);
    if (counts.some((n) => !Number.isInteger(n) || n < 1)) {
      process.stderr.write(`bench: --scale wants counts like 1,8,32\n${USAGE}\n`);
      return 2;
    }
    const stepMin = parsed.values['step-min'] === undefined ? undefined : Number(parsed.values['step-min']);
    if (stepMin !== undefined && !(stepMin > 0)) {
      process.stderr.write(`bench: --step-min wants minutes > 0\n${USAGE}\n`);
      return 2;
    }
    const run = await runPodsBench({ counts, out: parsed.values.out ?? null, json: parsed.values.json === true, ...(stepMin === undefined ? {} : { stepBoundMs: stepMin * 60_000 }) });
    process.stdout.write(parsed.values.json ? JSON.stringify(run.report, null, 2) + '\n' : run.text);
    process.stderr.write(`bench: wrote ${run.jsonPath}\n`);
    return 0;
  }
  if (name === 'docker') {
    // docker run against forkd run, same stack, same run (docker-bench.ts); --runs, --quick, --out and --json apply.
    const { runDockerBench } = await import('./docker-bench.js');
    const run = await runDockerBench({ runs: parsed.values.runs === undefined ? opts.quick ? 3 : 10 : opts.runs, out: opts.out, json: opts.json });
    process.stdout.write(opts.json ? JSON.stringify(run.report, null, 2) + '\n' : run.text);
    process.stderr.write(`bench: wrote ${run.jsonPath}\n`);
    return 0;
  }
  if (name === 'desktop') {
    // Request → first painted frame in Chromium, fork vs cold, idle memory (desktop-bench.ts); --runs (default 5), --out, --json.
    const { runDesktopBench } = await import('./desktop-bench.js');
    const run = await runDesktopBench({ runs: parsed.values.runs === undefined ? 5 : opts.runs, out: opts.out, json: opts.json });
    process.stdout.write(opts.json ? JSON.stringify(run.report, null, 2) + '\n' : run.text);
    process.stderr.write(`bench: wrote ${run.jsonPath}\n`);
    return 0;
  }
  if (name === 'run') {
    // forkd run --rm through the CLI and API, cold / fork / pool / ready-pool (run-bench.ts), the raw-QEMU floor and runsc; --runs (default 20, --quick 3), --modes, --out and --json apply.
    const { runRunBench, RUN_MODES } = await import('./run-bench.js');
    const modes = (parsed.values.modes ?? RUN_MODES.join(',')).split(',').filter(Boolean);
    const unknown = modes.filter((m) => !(RUN_MODES as readonly string[]).includes(m));
    if (modes.length === 0 || unknown.length > 0) {
      process.stderr.write(`bench: run --modes takes ${RUN_MODES.join(', ')} (got ${JSON.stringify(parsed.values.modes)})\n${USAGE}\n`);
      return 2;
    }
    const run = await runRunBench({ runs: opts.runs, out: opts.out, json: opts.json, modes: modes as typeof RUN_MODES[number][] });
    process.stdout.write(opts.json ? JSON.stringify(run.report, null, 2) + '\n' : run.text);
    process.stderr.write(`bench: wrote ${run.jsonPath}\n`);
    return 0;
  }
  const { runForkBench } = await import('./fork-bench.js');
  const run = await runForkBench(opts);
  process.stdout.write(opts.json ? JSON.stringify(run.report, null, 2) + '\n' : run.text);
  process.stderr.write(`bench: wrote ${run.jsonPath}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
