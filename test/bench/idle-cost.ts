// What an idle pool clone costs while it waits for a take (issue 9: "say what
// idle ready clones cost in CPU and memory"). A shell-mode clone waits paused
// in `-incoming` (device state loaded, no vCPU running); a ready-mode clone
// runs (guest timers, its agent, TCG). Read from the clone's QEMU process:
// CPU as (utime + stime) over a window, and its PSS at the window's end.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { domainPss, kibToMib, qemuPidOf } from './smaps.js';

export interface IdleCost { windowMs: number; cpuPercent: number; pssMib: number }

/** utime + stime of a process in clock ticks (/proc/<pid>/stat fields 14 and 15, after the command's closing paren). */
export function parseCpuTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unreadable /proc/<pid>/stat');
  return utime + stime;
}

// Linux reports these fields in USER_HZ, 100 on every architecture forkd runs on.
const USER_HZ = 100;

export async function idleCost(domainName: string, windowMs: number): Promise<IdleCost> {
  const pid = await qemuPidOf(domainName);
  const stat = join('/proc', String(pid), 'stat');
  const t0 = Date.now();
  const c0 = parseCpuTicks(await readFile(stat, 'utf8'));
  await new Promise((r) => setTimeout(r, windowMs));
  const c1 = parseCpuTicks(await readFile(stat, 'utf8'));
  const elapsed = Date.now() - t0;
  const pss = await domainPss(domainName);
  return { windowMs: elapsed, cpuPercent: Math.round((((c1 - c0) / USER_HZ) * 1000 / elapsed) * 1000) / 10, pssMib: Math.round(kibToMib(pss.pssKib)) };
}

/** The stack's pool clone: the running domain whose disk hostd keeps under <dataDir>/run/pool/. */
export function poolDomain(dataDir: string, domains: readonly string[], argvOf: (name: string) => string[]): string | null {
  const poolDir = join(dataDir, 'run', 'pool') + '/';
  for (const name of domains) {
    let argv: string[];
    try { argv = argvOf(name); } catch { continue; }
    if (argv.some((a) => /"filename":"([^"]+)"/.exec(a)?.[1]?.startsWith(poolDir))) return name;
  }
  return null;
}
