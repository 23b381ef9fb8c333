// Memory facts the benchmark reads from /proc: a QEMU process's proportional
// set size (PSS: private pages in full, shared pages divided by the number of
// processes mapping them) and the host's MemAvailable. The parsers are pure;
// the readers are thin.

import { readFile } from 'node:fs/promises';

export interface PssBreakdown {
  /** Sum of every `Pss:` line, KiB. */
  pssKib: number;
  /** Anonymous (private guest RAM written since start, TCG code cache, QEMU heap). */
  anonKib: number;
  /** File-backed: for a clone, the template's memory file pages it touched (shared with siblings). */
  fileKib: number;
  shmemKib: number;
  rssKib: number;
}

function sumField(text: string, field: string): number {
  const re = new RegExp(`^${field}:\\s+(\\d+)\\s*kB\\s*$`, 'gm');
  let sum = 0;
  for (const m of text.matchAll(re)) sum += Number(m[1]);
  return sum;
}

/**
 * Parses /proc/<pid>/smaps_rollup (or a full smaps: every mapping's lines are
 * summed). Only the exact `Pss:` field counts towards pssKib, not `Pss_Anon:` etc.
 */
export function parseSmapsPss(text: string): PssBreakdown {
  const pssKib = sumField(text, 'Pss');
  if (!/^Pss:/m.test(text)) throw new Error('no Pss: line in smaps text');
  return {
    pssKib,
    anonKib: sumField(text, 'Pss_Anon'),
    fileKib: sumField(text, 'Pss_File'),
    shmemKib: sumField(text, 'Pss_Shmem'),
    rssKib: sumField(text, 'Rss'),
  };
}

/** /proc/meminfo as KiB per field. */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s*kB)?\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** A libvirt pid file holds the pid, maybe with a newline. */
export function parsePidFile(text: string): number {
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`not a pid: ${JSON.stringify(text.slice(0, 40))}`);
  return pid;
}

export const LIBVIRT_QEMU_RUN_DIR = '/run/libvirt/qemu';

/** The QEMU pid of a running domain, from libvirt's pid file. */
export async function qemuPidOf(domainName: string, runDir = LIBVIRT_QEMU_RUN_DIR): Promise<number> {
  return parsePidFile(await readFile(`${runDir}/${domainName}.pid`, 'utf8'));
}

/** PSS of a running domain's QEMU process. */
export async function domainPss(domainName: string): Promise<PssBreakdown> {
  const pid = await qemuPidOf(domainName);
  return parseSmapsPss(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8'));
}

export async function memAvailableKib(): Promise<number> {
  const info = parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
  const v = info['MemAvailable'];
  if (v === undefined) throw new Error('/proc/meminfo has no MemAvailable');
  return v;
}

export const kibToMib = (kib: number): number => kib / 1024;
