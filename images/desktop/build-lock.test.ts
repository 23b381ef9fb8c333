// The desktop build lock: one holder at a time, the next waits for it, and a
// lock left by a dead process is taken over.
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withBuildLock } from './build-lock.js';

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'forkd-build-lock-')); dirs.push(d); return d; };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('withBuildLock', () => {
  it('runs one holder at a time: the second starts after the first ends', async () => {
    const dir = tmp();
    const order: string[] = [];
    let release!: () => void;
    const first = withBuildLock(dir, async () => { order.push('first in'); await new Promise<void>((r) => { release = r; }); order.push('first out'); });
    await new Promise((r) => setTimeout(r, 50));
    let waitedFor = 0;
    const second = withBuildLock(dir, async () => { order.push('second in'); }, (holder) => { waitedFor = holder; });
    await new Promise((r) => setTimeout(r, 700));
    expect(order).toEqual(['first in']);
    expect(waitedFor).toBe(process.pid);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
    expect(existsSync(join(dir, '.build.lock'))).toBe(false);
  });

  it('takes over a lock whose holder is dead', async () => {
    const dir = tmp();
    // pid 2^22+1 is above Linux's pid_max ceiling, so no process has it.
    writeFileSync(join(dir, '.build.lock'), `${2 ** 22 + 1}\n`);
    await expect(withBuildLock(dir, async () => 'ran')).resolves.toBe('ran');
  });

  it('frees the lock when the build throws', async () => {
    const dir = tmp();
    await expect(withBuildLock(dir, async () => { throw new Error('mmdebstrap failed'); })).rejects.toThrow('mmdebstrap failed');
    expect(existsSync(join(dir, '.build.lock'))).toBe(false);
  });
});
