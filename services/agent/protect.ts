// The agent outlives its containers: with several containers in one VM (a
// pod), an out-of-memory kill must take a container, never the agent. So the
// agent runs with oom_score_adj -1000 (the kernel's OOM killer never picks
// it) in a cgroup of its own, beside the containers' forkd/<id> cgroups, so a
// container's memory.max OOM cannot reach it either. Containers do not inherit
// the -1000: their spec sets oomScoreAdj 0 (oci-spec.ts).
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
