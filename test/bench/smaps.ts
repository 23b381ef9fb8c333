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

/** One mapping of /proc/<pid>/smaps. */
export interface Vma {
  perms: string;
  /** File path, `[heap]`-style name, or '' for an anonymous mapping. */
  path: string;
  sizeKib: number;
  pssKib: number;
}

const VMA_HEADER = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \S+ ?\s*(.*)$/;

/** Parses a full /proc/<pid>/smaps into its mappings (Size and Pss of each). */
export function parseSmapsVmas(text: string): Vma[] {
  const out: Vma[] = [];
  let cur: Vma | null = null;
  for (const line of text.split('\n')) {
    const h = VMA_HEADER.exec(line);
    if (h) {
      cur = { perms: h[1]!, path: h[2]!.trim(), sizeKib: 0, pssKib: 0 };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const f = /^(Size|Pss):\s+(\d+) kB/.exec(line);
    if (f) cur[f[1] === 'Size' ? 'sizeKib' : 'pssKib'] = Number(f[2]);
  }
  return out;
}

/** Where a QEMU process's PSS sits: guest RAM, TCG's translated-code buffer, the rest of QEMU. */
export interface PssParts {
  guestRamKib: number;
  tcgCodeKib: number;
  otherKib: number;
}

/** TCG's code buffer is one large anonymous mapping that is writable and executable (1 GiB reserved in QEMU 7.2). */
const TCG_MIN_KIB = 64 * 1024;

/**
 * Splits PSS by mapping: guest RAM is the read-write mapping exactly the
 * guest's size (anonymous for a booted VM, the template's memory file for a
 * clone); TCG's buffer is an anonymous rwx mapping of at least 64 MiB (absent
 * under KVM); everything else is QEMU itself (heap, libraries, device state).
 */
export function splitPss(vmas: readonly Vma[], guestRamMib: number): PssParts {
  const ramKib = guestRamMib * 1024;
  let guestRamKib = 0;
  let tcgCodeKib = 0;
  let total = 0;
  let ramSeen = false;
  for (const v of vmas) {
    total += v.pssKib;
    if (!ramSeen && v.sizeKib === ramKib && v.perms.startsWith('rw')) {
      guestRamKib = v.pssKib;
      ramSeen = true;
    } else if (v.path === '' && v.perms.startsWith('rwx') && v.sizeKib >= TCG_MIN_KIB) {
      tcgCodeKib += v.pssKib;
    }
  }
  return { guestRamKib, tcgCodeKib, otherKib: total - guestRamKib - tcgCodeKib };
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

/** PSS of a running domain's QEMU process split into guest RAM, TCG code buffer and the rest (full smaps). */
export async function domainPssParts(domainName: string, guestRamMib: number): Promise<PssParts> {
  const pid = await qemuPidOf(domainName);
  return splitPss(parseSmapsVmas(await readFile(`/proc/${pid}/smaps`, 'utf8')), guestRamMib);
}

export async function memAvailableKib(): Promise<number> {
  const info = parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
  const v = info['MemAvailable'];
  if (v === undefined) throw new Error('/proc/meminfo has no MemAvailable');
  return v;
}

export const kibToMib = (kib: number): number => kib / 1024;
