// The directory lock: one holder at a time, a live holder in another process
// is waited for (and named), a dead one's lock is taken over, and a failing
// holder frees it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withDirLock } from './dir-lock.js';

const dirs: string[] = [];
const lockIn = () => { const d = mkdtempSync(join(tmpdir(), 'forkd-dir-lock-')); dirs.push(d); return join(d, '.lock'); };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('withDirLock', () => {
  it('runs one holder at a time: the second starts after the first ends', async () => {
    const lock = lockIn();
    const order: string[] = [];
    let release!: () => void;
    const first = withDirLock(lock, async () => { order.push('first in'); await new Promise<void>((r) => { release = r; }); order.push('first out'); });
    await new Promise((r) => setTimeout(r, 50));
    const second = withDirLock(lock, async () => { order.push('second in'); });
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual(['first in']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
    expect(existsSync(lock)).toBe(false);
  });

  it('waits for a live holder in another process, naming it, and takes the lock once that process is gone', async () => {
    const lock = lockIn();
    const holder = spawn('sleep', ['30']);
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), String(holder.pid));
    let named = 0;
    let ran = false;
    const waiting = withDirLock(lock, async () => { ran = true; }, { timeoutMs: Number.POSITIVE_INFINITY, onWait: (pid) => { named = pid; } });
    await new Promise((r) => setTimeout(r, 300));
    expect(ran).toBe(false);
    expect(named).toBe(holder.pid);
    holder.kill('SIGKILL');
    await waiting;
    expect(ran).toBe(true);
  });

  it('gives up after its timeout while a live holder keeps it', async () => {
    const lock = lockIn();
    const holder = spawn('sleep', ['30']);
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(holder.pid));
      await expect(withDirLock(lock, async () => 'ran', { timeoutMs: 200 })).rejects.toThrow(/still held/);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('frees the lock when the holder throws', async () => {
    const lock = lockIn();
    await expect(withDirLock(lock, async () => { throw new Error('mmdebstrap failed'); })).rejects.toThrow('mmdebstrap failed');
    expect(existsSync(lock)).toBe(false);
  });
});
