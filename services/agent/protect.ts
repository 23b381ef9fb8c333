// The agent outlives its containers: with several containers in one VM (a
// pod), an out-of-memory kill must take a container, never the agent. So the
// agent runs with oom_score_adj -1000 (the kernel's OOM killer never picks
// it) in a cgroup of its own, beside the containers' forkd/<id> cgroups, so a
// container's memory.max OOM cannot reach it either. Containers must not
// inherit the -1000: a cgroup whose every task is -1000 has no OOM victim, so
// a container at its memory.max would stall instead of being killed. crun is
// therefore started through `withOomScoreReset` (its container and exec
// processes start at 0), and the spec says oomScoreAdj 0 as well (oci-spec.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Log } from './handler.js';

/** The agent's own cgroup under the cgroup root. */
export const AGENT_CGROUP = 'forkd-agent';

export async function protectAgent(cgroupRoot: string, log: Log, pid = process.pid, proc = '/proc'): Promise<void> {
  await writeFile(join(proc, String(pid), 'oom_score_adj'), '-1000').catch((e: unknown) => log('could not set the agent\'s oom_score_adj', { error: String(e) }));
  const dir = join(cgroupRoot, AGENT_CGROUP);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cgroup.procs'), String(pid));
  } catch (e) {
    log('could not move the agent into its own cgroup', { error: String(e) });
  }
}

/** The script that puts a process back at oom_score_adj 0 before it becomes `$0 "$@"` (raising it needs no privilege). */
const RESET_THEN_EXEC = '{ echo 0 > /proc/self/oom_score_adj; } 2>/dev/null; exec "$0" "$@"';

/** `bin args` as spawn arguments that start it at oom_score_adj 0 whatever the agent's (same pid: sh execs it). */
export function withOomScoreReset(bin: string, args: readonly string[]): [string, string[]] {
  return ['/bin/sh', ['-c', RESET_THEN_EXEC, bin, ...args]];
}
