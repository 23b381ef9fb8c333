// Kernel same-page merging: where the host has it, identical pages of forked
// VMs that drifted apart (or of unrelated VMs) can be merged again. forkd only
// reports it and, with FORKD_KSM=on, switches it on; nothing depends on it —
// clones share their template's pages through the private file mapping anyway.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const KSM_DIR = '/sys/kernel/mm/ksm';

export interface KsmStatus {
  available: boolean;
  running: boolean;
  /** Pages currently deduplicated (sharing) and the pages they point at (shared). */
  pagesSharing: number;
  pagesShared: number;
}

async function readNumber(name: string, dir: string): Promise<number | null> {
  const text = await readFile(join(dir, name), 'utf8').catch(() => null);
  return text === null ? null : Number(text.trim());
}

export async function ksmStatus(dir = KSM_DIR): Promise<KsmStatus> {
  const run = await readNumber('run', dir);
  if (run === null) return { available: false, running: false, pagesSharing: 0, pagesShared: 0 };
  return {
    available: true,
    running: run === 1,
    pagesSharing: (await readNumber('pages_sharing', dir)) ?? 0,
    pagesShared: (await readNumber('pages_shared', dir)) ?? 0,
  };
}

/** Turns KSM on; false when the host has none or refuses (read-only sysfs in a container). */
export async function enableKsm(dir = KSM_DIR): Promise<boolean> {
  return writeFile(join(dir, 'run'), '1').then(() => true, () => false);
}
