// Container logs on the guest disk: <container>/log, one CRI line per record
// (log-format.ts). Lines are appended synchronously, so the file always holds
// every line counted in `size`; a follower reads the file from its own offset
// and waits for more, which keeps no per-follower buffer in memory.

import { closeSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { formatLogLine, LogLineSplitter, parseLogLine, type LogStream } from '../contracts/agent-protocol/index.js';

export class LogWriter {
  private fd: number | null;
  private bytes: number;
  private waiters: Array<() => void> = [];
  private closed = false;
  readonly stdout: LogLineSplitter;
  readonly stderr: LogLineSplitter;

  constructor(
    readonly file: string,
    now: () => number = Date.now,
  ) {
    this.fd = openSync(file, 'a');
    this.bytes = 0;
    const emit = (rec: Parameters<typeof formatLogLine>[0]) => this.append(formatLogLine(rec));
    this.stdout = new LogLineSplitter('stdout', emit, now);
    this.stderr = new LogLineSplitter('stderr', emit, now);
  }

  splitter(s: LogStream): LogLineSplitter {
    return s === 'stdout' ? this.stdout : this.stderr;
  }

  /** Flushes partial lines and closes the file; followers then finish. */
  close(): void {
    if (this.closed) return;
    this.stdout.flush();
    this.stderr.flush();
    this.closed = true;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.wake();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves on the next append or on close. */
  changed(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  private append(line: string): void {
    if (this.fd === null) return;
    const b = Buffer.from(line);
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off);
    this.bytes += b.length;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Keeps the lines a logs request asked for (tail, since) from a whole-file read. */
export function selectLines(text: string, opts: { tail?: number; sinceMs?: number }): string[] {
  let lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (opts.sinceMs !== undefined) {
    const since = opts.sinceMs;
    lines = lines.filter((l) => (parseLogLine(l)?.time ?? 0) >= since);
  }
  if (opts.tail !== undefined) lines = opts.tail === 0 ? [] : lines.slice(-opts.tail);
  return lines;
}

/**
 * Streams a log file: first the selected existing lines, then (when `follow`)
 * what is appended, until the writer closes or the signal aborts. Returns the
 * number of lines sent.
 */
export async function streamLog(
  file: string,
  opts: { tail?: number; sinceMs?: number; follow?: boolean },
  writer: LogWriter | null,
  send: (b: Buffer) => Promise<void>,
  signal: AbortSignal,
): Promise<number> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return 0;
  try {
    let pos = (await fh.stat()).size;
    const initial = Buffer.alloc(pos);
    if (pos > 0) await fh.read(initial, 0, pos, 0);
    const lines = selectLines(initial.toString('utf8'), opts);
    let count = 0;
    for (let i = 0; i < lines.length; i += 256) {
      const part = lines.slice(i, i + 256);
      await send(Buffer.from(part.map((l) => `${l}\n`).join('')));
      count += part.length;
    }
    if (!opts.follow || !writer) return count;
    const buf = Buffer.alloc(64 * 1024);
    const aborted = new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
    for (;;) {
      if (signal.aborted) return count;
      const closed = writer.isClosed;
      const changed = writer.changed();
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        const chunk = Buffer.from(buf.subarray(0, bytesRead));
        count += chunk.toString('utf8').split('\n').length - 1;
        await send(chunk);
        continue;
      }
      if (closed) return count;
      await Promise.race([changed, aborted]);
    }
  } finally {
    await fh.close();
  }
}
