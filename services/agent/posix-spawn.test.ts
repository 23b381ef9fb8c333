import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeWaitStatus, posixSpawnAvailable, spawnChild, type ChildLike } from './posix-spawn.js';

function collect(s: Readable | null): Promise<string> {
  if (!s) return Promise.resolve('');
  let out = '';
  s.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve) => s.once('close', () => resolve(out)));
}

function closed(child: ChildLike): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

describe('spawnChild (posix_spawn through koffi)', () => {
  it('is what the agent uses here: koffi is installed', () => {
    expect(posixSpawnAvailable()).toBe(true);
  });

  it('gives the child its arguments, environment and working directory, and reports its exit code after its output', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forkd-spawn-'));
    try {
      const child = spawnChild('sh', ['-c', 'echo "$1 $GREETING $(pwd)"; echo oops >&2; exit 3', 'sh', 'arg'], { cwd: dir, env: { GREETING: 'hello', PATH: '/usr/bin:/bin' } });
      const [out, err, end] = await Promise.all([collect(child.stdout), collect(child.stderr), closed(child)]);
      expect(out).toBe(`arg hello ${dir}\n`);
      expect(err).toBe('oops\n');
      expect(end).toEqual({ code: 3, signal: null });
      expect(child.pid).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts the child with every signal at its default and none blocked, although Node ignores SIGPIPE', async () => {
    const child = spawnChild('sh', ['-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status']);
    const [out] = await Promise.all([collect(child.stdout), closed(child)]);
    expect(out).toMatch(/SigBlk:\s+0+\n/);
    expect(out).toMatch(/SigIgn:\s+0+\n/);
  });

  it('pipes stdin, and ending it is EOF for the child', async () => {
    const child = spawnChild('cat', []);
    const out = collect(child.stdout);
    const end = closed(child);
    child.stdin!.end('through cat\n');
    expect(await out).toBe('through cat\n');
    expect(await end).toEqual({ code: 0, signal: null });
  });

  it('reports a child that exits while stdin is still open, without waiting for stdin', async () => {
    const child = spawnChild('true', []);
    expect(await closed(child)).toEqual({ code: 0, signal: null });
    child.stdin!.destroy();
  });

  it('attaches ignored stdio to /dev/null', async () => {
    const child = spawnChild('sh', ['-c', 'readlink /proc/self/fd/0 /proc/self/fd/2 >&1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    expect(child.stdin).toBeNull();
    expect(child.stderr).toBeNull();
    const [out] = await Promise.all([collect(child.stdout), closed(child)]);
    expect(out).toBe('/dev/null\n/dev/null\n');
  });

  it('kill() signals the child, and the close says which signal ended it', async () => {
    const child = spawnChild('sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore'] });
    const end = closed(child);
    expect(child.kill('SIGTERM')).toBe(true);
    expect(await end).toEqual({ code: null, signal: 'SIGTERM' });
    expect(child.kill('SIGTERM')).toBe(false); // reaped: its pid may be someone else's now
  });

  it('hands extra descriptors over as 3, 4, … (and nothing else of ours)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forkd-spawn-'));
    try {
      await writeFile(join(dir, 'a'), 'first\n');
      await writeFile(join(dir, 'b'), 'second\n');
      const fds = [openSync(join(dir, 'a'), 'r'), openSync(join(dir, 'b'), 'r')];
      const listFds = 'ls /proc/self/fd | sort -n | tr "\\n" " "';
      const child = spawnChild('sh', ['-c', `cat <&3; cat <&4; ${listFds}`], { stdio: ['ignore', 'pipe', 'ignore'], extraFds: fds });
      const [out] = await Promise.all([collect(child.stdout), closed(child)]);
      for (const fd of fds) closeSync(fd);
      // 0–2, 3 and 4, the descriptor ls reads /proc/self/fd with, and whatever Node's own spawn
      // passes on too (a test runner's IPC channel is not close-on-exec).
      const viaNode = execFileSync('sh', ['-c', listFds], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      const inherited = viaNode.split(' ').filter((f) => Number(f) > 3).join(' ');
      expect(out).toBe(`first\nsecond\n0 1 2 3 4 5 ${inherited}`.trimEnd() + ' ');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a program that does not exist is an error event with ENOENT, and the piped streams exist, already ended', async () => {
    const child = spawnChild('/nonexistent/forkd-no-such-program', []);
    const e = await new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
    expect(e.code).toBe('ENOENT');
    expect(child.pid).toBeUndefined();
    // Callers wire stdio before they hear of the error, as with Node's spawn.
    expect(await collect(child.stdout)).toBe('');
    expect(await collect(child.stderr)).toBe('');
    expect(child.stdin!.write('ignored')).toBe(true);
  });

  it('looks the program up on the child\'s PATH, as Node does, not the agent\'s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forkd-spawn-'));
    try {
      await writeFile(join(dir, 'forkd-only-here'), '#!/bin/sh\necho found on the child PATH\n', { mode: 0o755 });
      const child = spawnChild('forkd-only-here', [], { env: { PATH: `${dir}:/usr/bin:/bin` } });
      const [out] = await Promise.all([collect(child.stdout), closed(child)]);
      expect(out).toBe('found on the child PATH\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('closes even when nobody reads its output, and its stdin goes with it', async () => {
    const child = spawnChild('sh', ['-c', 'echo unread; echo unread >&2']);
    expect(await closed(child)).toEqual({ code: 0, signal: null });
    expect(child.stdin!.destroyed).toBe(true);
  });

  it('many children at once are each reaped with their own status', async () => {
    const children = Array.from({ length: 20 }, (_, i) => spawnChild('sh', ['-c', `exit ${i}`], { stdio: ['ignore', 'ignore', 'ignore'] }));
    const ends = await Promise.all(children.map(closed));
    expect(ends.map((e) => e.code)).toEqual(children.map((_, i) => i));
  });
});

describe('decodeWaitStatus', () => {
  it('reads an exit code from the high byte and a signal from the low bits', () => {
    expect(decodeWaitStatus(3 << 8)).toEqual({ code: 3, signal: null });
    expect(decodeWaitStatus(9)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(decodeWaitStatus(9 | 0x80)).toEqual({ code: null, signal: 'SIGKILL' }); // with a core dump
  });
});
