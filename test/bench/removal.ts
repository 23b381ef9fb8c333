// How long a container removal keeps its client waiting (issue 9: "a container
// removal returns in ≤ 100 ms p50; the VM's teardown may finish after the
// response"). `forkd run --rm` sends its DELETE after the wait, inside the
// time bench run reports, where it cannot be told apart from the wait; here it
// is timed on its own: a detached `forkd run -d busybox true` from the pool,
// its wait, then the DELETE that `--rm` would send, timed from request to
// response in this process.
import { runCli, type Stack } from '../harness.js';
import { percentile } from './stats.js';

export interface RemovalResult { p50_ms: number; p95_ms: number; samples: number[] }

export function removalResult(samples: readonly number[]): RemovalResult {
  return { p50_ms: Math.round(percentile([...samples], 50)), p95_ms: Math.round(percentile([...samples], 95)), samples: samples.map((s) => Math.round(s)) };
}

/** One exited container removed: ms from the DELETE's request to its answer. */
export async function timedRemoval(stack: Stack): Promise<number> {
  const run = await runCli(['run', '-d', 'busybox', '--', 'true'], stack.env, { timeoutMs: 300_000 });
  const id = run.stdout.trim();
  if (run.code !== 0 || !id) throw new Error(`forkd run -d failed (${run.code}): ${run.stderr.trim()}`);
  const wait = await stack.api(`/v1/containers/${id}/wait`, { method: 'POST' });
  if (!wait.ok) throw new Error(`wait for ${id}: HTTP ${wait.status}: ${await wait.text()}`);
  const t0 = performance.now();
  const del = await stack.api(`/v1/containers/${id}?force=true`, { method: 'DELETE' });
  const ms = performance.now() - t0;
  await del.arrayBuffer();
  if (!del.ok) throw new Error(`DELETE ${id}: HTTP ${del.status}`);
  return ms;
}
