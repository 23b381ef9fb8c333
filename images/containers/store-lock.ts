// A short-held lock around the store's metadata changes: a promise chain inside
// one process, a `lock` directory (mkdir is atomic) across processes. A lock
// left by a dead process (or without a pid file for over 10 s) is taken over.

import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const chains = new Map<string, Promise<unknown>>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquire(dir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      await mkdir(dir);
      await writeFile(join(dir, 'pid'), String(process.pid));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => ''));
    // No pid file long after the directory appeared: its owner died between mkdir and write.
    const orphan = owner === 0 && Date.now() - ((await stat(dir).catch(() => null))?.mtimeMs ?? Date.now()) > 10_000;
    if (orphan || (owner > 0 && owner !== process.pid && !alive(owner))) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`image store lock ${dir} is still held after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

export async function withStoreLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const prev = chains.get(dir) ?? Promise.resolve();
  const run = prev.then(async () => {
    await acquire(dir, timeoutMs);
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
