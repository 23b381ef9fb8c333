// `npm run bench -- live-fork [--mib N] [--runs R] [--scale 1,8,32] [--out FILE]`:
// forking a running container (docs/fork.md "Forking a running container").
// One stack with hostd in this process, one busybox template, one parent
// that dirtied N MiB (random bytes in a tmpfs file) and counts in a shell
// loop. Measured in one run: the parent's pause (p50/p95 over R forks of one
// child), request → child ready (the job) and → the child's first answer (an
// exec reading its counter), host memory per child (QEMU PSS and RSS), a
// second fork of the same parent right after a first (reuse of its fork
// point: pause and bytes written), forks of 8 and 32 children at once, and a
// cold boot that rebuilds the same state. Every capture but the re-fork's
// second asks `fresh: true`, so each measures a pause. Bounded: the scale
// steps stop once the run passed BUDGET_MS; every VM is destroyed by id.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBusyboxImage } from '../../images/containers/builders/busybox.js';
import { importImageArchive } from '../../images/containers/image-import.js';
import { ImageStore } from '../../images/containers/image-store.js';
import { HostJobs } from '../../services/api/host-jobs.js';
import type { JobImage, JobInput, JobName, JobOutput } from '../../services/contracts/jobs.js';
import { createLogger } from '../../services/contracts/logger.js';
import { connectRedis } from '../../services/contracts/redis.js';
import { startHostd } from '../../services/hostd/main.js';
import { sealedEnvFor, startStack } from '../harness.js';
import { domainPss, kibToMib, memAvailableKib } from './smaps.js';
import { summarize } from './stats.js';

const log = createLogger('warn', { svc: 'bench-live-fork' });

/** The scale steps start only while the run is younger than this. */
const BUDGET_MS = 30 * 60_000;

/** Bytes a fork point took on disk (allocated blocks: its memory file is sparse). */
function allocatedBytes(dir: string): number {
  let sum = 0;
  for (const f of readdirSync(dir)) sum += statSync(join(dir, f)).blocks * 512;
  return sum;
}

function workload(mib: number): string {
  // The working set: N MiB of random bytes in a tmpfs (guest RAM the fork must carry), then a counter in memory.
  return `head -c ${mib * 1048576} /dev/urandom > /dev/shm/blob 2>/dev/null || head -c ${mib * 1048576} /dev/urandom > /tmp/blob; `
    + 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done';
}

export async function runLiveForkBench(argv: string[]): Promise<{ text: string; report: unknown; jsonPath: string }> {
  const { values } = parseArgs({ args: argv, options: { mib: { type: 'string' }, runs: { type: 'string' }, scale: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const mib = Number(values.mib ?? 64);
  const runs = Number(values.runs ?? 5);
  const scale = (values.scale ?? '1,8,32').split(',').map(Number).filter((n) => n > 1);
  const tRun = Date.now();
  const jsonPath = values.out ?? join('var', 'bench', 'live-fork.json');
  // No reconcile rounds: the bench makes VMs by job, without API rows, which a reconciler would destroy mid-run (a fork of 32 outlasts its grace).
  const stack = await startStack({ name: 'bench-live-fork', hostd: false, env: { FORKD_RECONCILE_INTERVAL_MS: '0' } });
  const hostd = await startHostd(stack.config, stack.env.REDIS_URL!, log);
  const redis = await connectRedis(stack.env.REDIS_URL!);
  const jobs = new HostJobs(redis, 900_000);
  const work = mkdtempSync(join(tmpdir(), 'forkd-bench-live-fork-'));
  const call = <N extends JobName>(name: N, input: JobInput<N>): Promise<JobOutput<N>> => jobs.call(stack.config.hostId, name, input, { timeoutMs: 900_000 });
  const firstAnswer = async (vmId: string, containerId: string): Promise<string> => {
    const h = hostd.vms.get(vmId).agent.exec({ id: containerId, command: ['cat', '/tmp/count'], stdin: false });
    h.stderr.resume();
    let out = '';
    for await (const chunk of h.stdout) out += String(chunk);
    await h.result;
    return out.trim();
  };
  const lines: string[] = [];
  const say = (s: string): void => {
    lines.push(s);
    process.stderr.write(`${s}\n`);
  };
  try {
    await buildBusyboxImage(join(work, 'busybox.tar'), {});
    const stored = await importImageArchive(join(work, 'busybox.tar'), new ImageStore(stack.dataDir));
    const image: JobImage = { id: stored.id, config: stored.config, layers: stored.layers.map((l) => ({ diffId: l.diffId, size: l.size, path: l.path })) };
    const TID = 'bench-lf';
    await call('template.build', { templateId: TID, image, vcpus: 1, memoryMib: 256, poolSize: 0, containers: [] });
    const spec = async (cid: string) => ({ command: ['sh', '-c', workload(mib)], env: await sealedEnvFor(stack, cid, ['PATH=/bin']), limits: {} });
    const ready = async (vmId: string, cid: string): Promise<void> => {
      for (let i = 0; i < 600; i++) {
        if (/^\d+$/.test(await firstAnswer(vmId, cid).catch(() => ''))) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${vmId} never counted`);
    };

    // Cold boot that rebuilds the state: the alternative to a fork.
    const tCold = Date.now();
    await call('container.create', { tenantId: 't', vmId: 'bench-cold', containerId: 'c-cold', boot: 'cold', vm: { vcpus: 1, memoryMib: 256 }, image, spec: await spec('c-cold'), ports: [] });
    await ready('bench-cold', 'c-cold');
    const coldMs = Date.now() - tCold;
    const coldPssMib = kibToMib((await domainPss(hostd.vms.get('bench-cold').domainName)).pssKib);
    await call('vm.destroy', { vmId: 'bench-cold' });
    say(`cold boot + ${mib} MiB state: ${coldMs} ms to the first answer, PSS ${coldPssMib.toFixed(0)} MiB`);

    await call('container.create', { tenantId: 't', vmId: 'bench-parent', containerId: 'c-parent', boot: 'fork', templateId: TID, vm: { vcpus: 1, memoryMib: 256 }, image, spec: await spec('c-parent'), ports: [] });
    await ready('bench-parent', 'c-parent');

    const pauses: number[] = [];
    const readyMs: number[] = [];
    const answerMs: number[] = [];
    const pss: number[] = [];
    const rss: number[] = [];
    const points: Array<Record<string, number>> = [];
    for (let r = 0; r < runs; r++) {
      const vmId = `bench-child-${r}`;
      const t0 = Date.now();
      const out = await call('container.fork', { tenantId: 't', parent: { vmId: 'bench-parent', containerId: 'c-parent' }, children: [{ vmId, containerId: `c-child-${r}` }], ports: [], fresh: true });
      readyMs.push(Date.now() - t0);
      await firstAnswer(vmId, `c-child-${r}`);
      answerMs.push(Date.now() - t0);
      pauses.push(out.forkPoint.timings['pauseMs']!);
      points.push({ ...out.forkPoint.timings, streamMiB: out.forkPoint.streamBytes / 1048576 });
      await new Promise((r2) => setTimeout(r2, 2000));
      const m = await domainPss(hostd.vms.get(vmId).domainName);
      pss.push(kibToMib(m.pssKib));
      rss.push(kibToMib(m.rssKib));
      await call('vm.destroy', { vmId });
    }
    const sp = summarize(pauses);
    const sr = summarize(readyMs);
    const sa = summarize(answerMs);
    const sm = summarize(pss);
    const sRss = summarize(rss);
    say(`fork x1, ${runs} runs, parent with ${mib} MiB dirtied: parent pause p50 ${sp.p50} ms p95 ${sp.p95} ms; request→child ready p50 ${sr.p50} ms p95 ${sr.p95} ms; →first answer p50 ${sa.p50} ms p95 ${sa.p95} ms; child PSS p50 ${sm.p50.toFixed(0)} MiB, RSS p50 ${sRss.p50.toFixed(0)} MiB`);
    say(`fork point steps (p50 of each): ${JSON.stringify(Object.fromEntries(Object.keys(points[0] ?? {}).map((k) => [k, Math.round(summarize(points.map((p) => p[k]!)).p50)])))}`);

    const scaled: Array<Record<string, number>> = [];
    for (const n of scale) {
      if (Date.now() - tRun > BUDGET_MS) {
        say(`fork x${n}: skipped, the run passed its ${BUDGET_MS / 60_000} min budget`);
        continue;
      }
      const before = await memAvailableKib();
      const t0 = Date.now();
      const children = Array.from({ length: n }, (_, i) => ({ vmId: `bench-n${n}-${i}`, containerId: `c-n${n}-${i}` }));
      const out = await call('container.fork', { tenantId: 't', parent: { vmId: 'bench-parent', containerId: 'c-parent' }, children, ports: [], fresh: true });
      const allMs = Date.now() - t0;
      // The last child's first answer: the request's whole cost to a user who waits for all N.
      await firstAnswer(children[n - 1]!.vmId, children[n - 1]!.containerId);
      const lastAnswerMs = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 3000));
      const mem = await Promise.all(children.map(async (c) => domainPss(hostd.vms.get(c.vmId).domainName)));
      const usedMib = kibToMib(before - (await memAvailableKib()));
      const perChild = summarize(mem.map((m) => kibToMib(m.pssKib)));
      const rssChild = summarize(mem.map((m) => kibToMib(m.rssKib)));
      scaled.push({ n, pauseMs: out.forkPoint.timings['pauseMs']!, allReadyMs: allMs, lastAnswerMs, msPerChild: allMs / n, pssP50Mib: perChild.p50, rssP50Mib: rssChild.p50, hostMibPerChild: usedMib / n });
      say(`fork x${n}: pause ${out.forkPoint.timings['pauseMs']} ms, all ${n} ready in ${allMs} ms (${(allMs / n).toFixed(0)} ms each), last child's first answer ${lastAnswerMs} ms, PSS per child p50 ${perChild.p50.toFixed(0)} MiB (RSS ${rssChild.p50.toFixed(0)} MiB), host MemAvailable drop ${(usedMib / n).toFixed(0)} MiB per child`);
      for (const c of children) await call('vm.destroy', { vmId: c.vmId });
    }
    // Last, so that a failure here costs only these numbers. The same parent forked twice in a row: the second may reuse the first's fork point (FORKD_FORK_REUSE_SEC).
    const refork: Array<Record<string, number | boolean>> = [];
    for (const [i, fresh] of [[0, true], [1, false]] as const) {
      const vmId = `bench-refork-${i}`;
      const t0 = Date.now();
      const out = await call('container.fork', { tenantId: 't', parent: { vmId: 'bench-parent', containerId: 'c-parent' }, children: [{ vmId, containerId: `c-refork-${i}` }], ports: [], ...(fresh ? { fresh: true } : {}) });
      const readyAt = Date.now() - t0;
      const fpDir = join(stack.dataDir, 'templates', out.forkPoint.templateId);
      const written = out.forkPoint.reused ? 0 : out.forkPoint.streamBytes + allocatedBytes(fpDir);
      refork.push({ fork: i + 1, reused: out.forkPoint.reused === true, pauseMs: out.forkPoint.timings['pauseMs'] ?? 0, writtenMiB: written / 1048576, readyMs: readyAt, reuseCheckMs: out.forkPoint.timings['reuseCheckMs'] ?? 0 });
      say(`re-fork ${i + 1}: ${out.forkPoint.reused ? `reused ${out.forkPoint.templateId} (check ${out.forkPoint.timings['reuseCheckMs']} ms)` : `captured${out.forkPoint.reuseSkipped ? ` (${out.forkPoint.reuseSkipped})` : ''}`}: pause ${out.forkPoint.timings['pauseMs'] ?? 0} ms, written ${(written / 1048576).toFixed(0)} MiB (stream + fork point), request→child ready ${readyAt} ms`);
    }
    for (let i = 0; i < 2; i++) await call('vm.destroy', { vmId: `bench-refork-${i}` });

    const report = { at: new Date().toISOString(), mib, runs, coldMs, coldPssMib, pause: sp, childReadyMs: sr, childAnswerMs: sa, childPssMib: sm, childRssMib: sRss, forkPoints: points, refork, scaled, runMs: Date.now() - tRun };
    mkdirSync(dirname(jsonPath), { recursive: true });
    writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    return { text: `${lines.join('\n')}\n`, report, jsonPath };
  } finally {
    for (const vm of hostd.vms.all()) await hostd.vms.destroy(vm.vmId).catch(() => undefined);
    await hostd.stop();
    await jobs.close();
    await redis.quit();
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
