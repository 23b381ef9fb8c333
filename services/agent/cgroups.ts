// cgroup v2 for containers. Each container gets a parent cgroup the agent owns,
// <cgroupRoot>/forkd/<id>, and crun puts the container in <id>/ctr with the
// limits from config.json. crun removes `ctr` when the container goes, the
// parent stays until container.delete: its memory.events is hierarchical, so
// `oom_kill` survives the container and container.wait can report oomKilled.

import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const CONTROLLERS = ['cpu', 'memory', 'pids', 'io'] as const;

/** `key value` lines (memory.events, cpu.stat, memory.stat) into numbers. */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+) (\d+)$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** A single-value file such as memory.current, memory.max or pids.max; `max` is null. */
export function parseLimit(text: string): number | null {
  const t = text.trim();
  if (t === 'max' || t === '') return null;
  const n = Number(t);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

export interface ContainerCgroupStats {
  memory: { currentBytes: number; maxBytes: number | null; oomKills: number };
  cpu: { usageUsec: number; userUsec: number; systemUsec: number; throttledUsec: number };
  pids: { current: number; max: number | null };
}

/**
 * Enables CONTROLLERS for `dir`'s children: one write of the whole list (the
 * kernel applies it whole or refuses it whole; every write is a few syscalls a
 * container start pays under TCG), else one controller at a time, skipping
 * those the guest lacks.
 */
async function enableControllers(dir: string): Promise<void> {
  const file = join(dir, 'cgroup.subtree_control');
  if (await writeFile(file, CONTROLLERS.map((c) => `+${c}`).join(' ')).then(() => true, () => false)) return;
  for (const c of CONTROLLERS) await writeFile(file, `+${c}`).catch(() => undefined);
}

export class Cgroups {
  constructor(private readonly root: string) {}

  parent(id: string): string {
    return join(this.root, 'forkd', id);
  }

  /** The path crun gets as linux.cgroupsPath (relative to the cgroup root). */
  cgroupsPath(id: string): string {
    return `/forkd/${id}/ctr`;
  }

  /** forkd/ hands its controllers down once per agent (forks inherit it with the guest's kernel state). */
  private forkdEnabled = false;

  /** Creates forkd/<id> with every available controller enabled for its child. */
  async prepare(id: string): Promise<void> {
    await mkdir(this.parent(id), { recursive: true });
    if (!this.forkdEnabled) {
      await enableControllers(join(this.root, 'forkd'));
      this.forkdEnabled = true;
    }
    await enableControllers(this.parent(id));
  }

  async remove(id: string): Promise<void> {
    await rmdir(join(this.parent(id), 'ctr')).catch(() => undefined);
    await rmdir(this.parent(id)).catch(() => undefined);
  }

  async oomKills(id: string): Promise<number> {
    const ev = parseKeyValues(await readFile(join(this.parent(id), 'memory.events'), 'utf8').catch(() => ''));
    return ev['oom_kill'] ?? 0;
  }

  async stats(id: string): Promise<ContainerCgroupStats> {
    const p = this.parent(id);
    const ctr = join(p, 'ctr');
    const read = (f: string) => readFile(f, 'utf8').catch(() => '');
    const cpu = parseKeyValues(await read(join(p, 'cpu.stat')));
    // Limits are set on ctr (by crun); once it is gone there is no limit to report.
    return {
      memory: {
        currentBytes: parseLimit(await read(join(p, 'memory.current'))) ?? 0,
        maxBytes: parseLimit(await read(join(ctr, 'memory.max'))),
        oomKills: parseKeyValues(await read(join(p, 'memory.events')))['oom_kill'] ?? 0,
      },
      cpu: { usageUsec: cpu['usage_usec'] ?? 0, userUsec: cpu['user_usec'] ?? 0, systemUsec: cpu['system_usec'] ?? 0, throttledUsec: cpu['throttled_usec'] ?? 0 },
      pids: { current: parseLimit(await read(join(p, 'pids.current'))) ?? 0, max: parseLimit(await read(join(ctr, 'pids.max'))) },
    };
  }
}
