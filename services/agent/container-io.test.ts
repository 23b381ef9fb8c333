import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ContainerIo, replayText } from './container-io.js';
import { LogWriter } from './logs.js';
import type { Terminal } from './terminal.js';

const dirs: string[] = [];
function newLog(): LogWriter {
  const d = mkdtempSync(join(tmpdir(), 'forkd-io-'));
  dirs.push(d);
  return new LogWriter(join(d, 'log'), () => Date.UTC(2026, 10, 30));
}
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const text = (cs: Array<{ stream: string; data: Buffer }>) => cs.map((c) => `${c.stream}:${c.data.toString()}`).join('|');

describe('the output of a running main process', () => {
  it('replays what was printed before an attach, then hands over what follows: nothing lost, nothing twice', () => {
    const io = new ContainerIo(newLog(), null, null);
    io.emit('stdout', Buffer.from('one\ntw'));
    io.emit('stderr', Buffer.from('oops\n'));
    const live: string[] = [];
    const snap = io.snapshotAndSubscribe((s, d) => live.push(`${s}:${d.toString()}`));
    // The log file has the complete lines; the line not yet complete comes from the splitter.
    expect(text(snap.replay)).toBe('stdout:one\n|stderr:oops\n|stdout:tw');
    io.emit('stdout', Buffer.from('o\n$ '));
    expect(live).toEqual(['stdout:o\n$ ']);
    snap.unsubscribe();
    io.emit('stdout', Buffer.from('gone'));
    expect(live).toHaveLength(1);
  });

  it('turns CRI log lines back into the bytes that made them', () => {
    const lines = [
      '2026-11-30T00:00:00.000Z stdout F a',
      '2026-11-30T00:00:00.000Z stdout P b',
      '2026-11-30T00:00:00.000Z stdout F c',
      '2026-11-30T00:00:00.000Z stderr F e',
      'not a log line',
    ].join('\n');
    expect(text(replayText(lines))).toBe('stdout:a\nbc\n|stderr:e\n');
  });

  it('ends a stdin pipe at the half-close, and leaves a terminal open', async () => {
    const pipe = new PassThrough();
    const got: string[] = [];
    pipe.on('data', (d: Buffer) => got.push(d.toString()));
    const io = new ContainerIo(newLog(), pipe, null);
    await io.writeStdin(Buffer.from('x\n'));
    io.endStdin();
    expect(pipe.writableEnded).toBe(true);
    expect(got).toEqual(['x\n']);
    expect(io.acceptsStdin).toBe(false);

    const writes: string[] = [];
    const terminal = { write: async (b: Buffer) => void writes.push(b.toString()) } as unknown as Terminal;
    const tio = new ContainerIo(newLog(), null, terminal);
    await tio.writeStdin(Buffer.from('ls\r'));
    tio.endStdin();
    expect(tio.acceptsStdin).toBe(true);
    expect(writes).toEqual(['ls\r']);

    // Control: without openStdin, writes go nowhere.
    const none = new ContainerIo(newLog(), null, null);
    expect(none.acceptsStdin).toBe(false);
    await none.writeStdin(Buffer.from('ignored'));
  });

  it('wakes waiters when all output is in', async () => {
    const io = new ContainerIo(newLog(), null, null);
    const ended = io.whenEnded();
    expect(io.isEnded).toBe(false);
    io.end();
    await ended;
    expect(io.isEnded).toBe(true);
  });
});
