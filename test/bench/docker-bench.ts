// `npm run bench -- docker [--runs N] [--out FILE] [--json]`: the same container
// through both front doors, in the same run on one stack: `docker run --rm
// busybox true` (Docker Engine API: create, attach, wait, start, remove) and
// `forkd run --rm busybox true` (forkd's API and CLI). The runs alternate so
// both see the same host load; one warm-up of each first (the template is
// built on first use and is not what is measured). Wall time of the client
// process, start to exit.
import { mkdir, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildBusyboxImage } from '../../images/containers/builders/busybox.js';
import { dataPaths, loadConfig } from '../../services/contracts/config.js';
import { dockerClient, ensureDockerCli } from '../docker-cli.js';
import { runCli, startStack } from '../harness.js';
import { summarize, type Summary } from './stats.js';
import { formatTable } from './table.js';

export interface DockerBenchOptions { runs: number; out: string | null; json: boolean }

export interface DockerBenchReport {
  benchmark: 'docker';
  runs: number;
  at: string;
  /** ms from the client's start to its exit, per front door. */
  docker: Summary & { samples: number[] };
  forkd: Summary & { samples: number[] };
}

async function timed(what: string, fn: () => Promise<{ code: number | null; stderr: string }>): Promise<number> {
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}`);
  return ms;
}

export async function runDockerBench(opts: DockerBenchOptions): Promise<{ report: DockerBenchReport; text: string; jsonPath: string }> {
  ensureDockerCli();
  const stack = await startStack({ name: 'bench-docker' });
  const work = mkdtempSync(join(tmpdir(), 'forkd-bench-docker-'));
  try {
    const docker = dockerClient(join(stack.dataDir, 'docker.sock'));
    await buildBusyboxImage(join(work, 'busybox.tar'), {});
    const load = await docker(['load', '-i', join(work, 'busybox.tar')]);
    if (load.code !== 0) throw new Error(`docker load failed: ${load.stderr}`);
    const viaDocker = () => docker(['run', '--rm', 'busybox', 'true'], { timeoutMs: 900_000 });
    const viaForkd = () => runCli(['run', '--rm', 'busybox', '--', 'true'], stack.env, { timeoutMs: 900_000 });
    await timed('warm-up docker run', viaDocker);
    await timed('warm-up forkd run', viaForkd);
    const d: number[] = [];
    const f: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      // Alternate which goes first, so neither always follows the other's teardown.
      if (i % 2 === 0) { d.push(await timed('docker run', viaDocker)); f.push(await timed('forkd run', viaForkd)); }
      else { f.push(await timed('forkd run', viaForkd)); d.push(await timed('docker run', viaDocker)); }
    }
    const report: DockerBenchReport = {
      benchmark: 'docker', runs: opts.runs, at: new Date().toISOString(),
      docker: { ...summarize(d), samples: d.map(Math.round) },
      forkd: { ...summarize(f), samples: f.map(Math.round) },
    };
    const jsonPath = opts.out ?? join(dataPaths(loadConfig().dataDir).bench, 'docker.json');
    await mkdir(dirname(jsonPath), { recursive: true });
    await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
    const row = (name: string, s: Summary) => [name, s.n, Math.round(s.p50), Math.round(s.p95), Math.round(s.min), Math.round(s.max)];
    const text = `${formatTable(['run --rm busybox true', 'n', 'p50 ms', 'p95 ms', 'min ms', 'max ms'], [row('docker (Docker API)', report.docker), row('forkd (forkd API)', report.forkd)])}\n`;
    return { report, text, jsonPath };
  } finally {
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
