// A lock across processes on a directory's work: a promise chain inside one
// process, a `lock` directory (mkdir is atomic) holding the holder's pid
// across processes. A lock left by a dead process (or without a pid file for
// over 10 s: its owner died between mkdir and write) is taken over. The image
// store holds it briefly around metadata changes; the desktop builder holds
// it for a whole build, so a second build waits and then copies the first's.

import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const chains = new Map<string, Promise<unknown>>();

/** Whether a process with this pid is alive (EPERM: alive, another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DirLockOptions {
  /** Give up after this long (default 30 s; Infinity waits as long as a live holder holds it). */
  timeoutMs?: number;
  /** Told once, with the holder's pid, when the lock is held by another process. */
  onWait?: (holder: number) => void;
}

async function acquire(dir: string, opts: DirLockOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (let delay = 5; ; delay = Math.min(delay * 2, 500)) {
    try {
      await mkdir(dir);
      await writeFile(join(dir, 'pid'), String(process.pid));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => ''));
    const orphan = owner === 0 && Date.now() - ((await stat(dir).catch(() => null))?.mtimeMs ?? Date.now()) > 10_000;
    if (orphan || (owner > 0 && owner !== process.pid && !processAlive(owner))) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (!told && owner > 0) { told = true; opts.onWait?.(owner); }
    if (Date.now() > deadline) throw new Error(`lock ${dir} is still held after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Runs `fn` holding the lock directory `dir` (made and removed here). */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>, opts: DirLockOptions = {}): Promise<T> {
  const prev = chains.get(dir) ?? Promise.resolve();
  const run = prev.then(async () => {
    await acquire(dir, opts);
    try {
      return await fn();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  const settled = run.catch(() => undefined);
  chains.set(dir, settled);
  void settled.then(() => {
    if (chains.get(dir) === settled) chains.delete(dir);
  });
  return run;
}
