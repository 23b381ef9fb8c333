// The main process's stdio while it runs: every output chunk goes to the
// container log (so `logs` and an attach with replay see everything) and to
// the attached clients; stdin (a pipe, or the terminal) takes what attached
// clients write. One per running container, made by Containers.start.

import type { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { parseLogLine, type LogStream } from '../contracts/agent-protocol/index.js';
import type { LogWriter } from './logs.js';
import type { Terminal } from './terminal.js';

export type OutputListener = (stream: LogStream, data: Buffer) => void;

export class ContainerIo {
  private readonly listeners = new Set<OutputListener>();
  private stdinOpen: boolean;
  private ended = false;
  private endWaiters: Array<() => void> = [];

  constructor(
    readonly log: LogWriter,
    /** The process's stdin when the container has openStdin and no terminal. */
    private readonly stdinPipe: Writable | null,
    readonly terminal: Terminal | null,
  ) {
    this.stdinOpen = stdinPipe !== null || terminal !== null;
    stdinPipe?.on('error', () => undefined);
  }

  /** Output of the process: logged, then handed to every attached client. */
  emit(stream: LogStream, data: Buffer): void {
    this.log.splitter(stream).push(data);
    for (const l of this.listeners) l(stream, data);
  }

  /** All output is in: attached clients finish. */
  end(): void {
    this.ended = true;
    for (const w of this.endWaiters.splice(0)) w();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  whenEnded(): Promise<void> {
    return this.ended ? Promise.resolve() : new Promise((r) => this.endWaiters.push(r));
  }

  /**
   * The output so far (from the log file and the lines not yet complete) and a
   * subscription to what follows, taken in one synchronous step so that no
   * chunk is missed or seen twice.
   */
  snapshotAndSubscribe(listener: OutputListener | null): { replay: Array<{ stream: LogStream; data: Buffer }>; unsubscribe: () => void } {
    const replay = replayLog(this.log.file);
    for (const s of ['stdout', 'stderr'] as const) {
      const pending = this.log.splitter(s).pendingBytes();
      if (pending.length > 0) replay.push({ stream: s, data: pending });
    }
    if (listener) this.listeners.add(listener);
    return { replay, unsubscribe: () => void (listener && this.listeners.delete(listener)) };
  }

  subscribe(listener: OutputListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get acceptsStdin(): boolean {
    return this.stdinOpen;
  }

  async writeStdin(data: Buffer): Promise<void> {
    if (!this.stdinOpen) return;
    if (this.terminal) return this.terminal.write(data);
    const pipe = this.stdinPipe!;
    if (pipe.destroyed || pipe.writableEnded) return;
    if (!pipe.write(data)) await new Promise<void>((r) => { pipe.once('drain', r); pipe.once('close', r); });
  }

  /**
   * The half-close: the process's stdin ends (EOF for `cat`). A terminal stays
   * open, as with Docker: its end is the process's business (^D).
   */
  endStdin(): void {
    if (!this.stdinOpen || this.terminal) return;
    this.stdinOpen = false;
    this.stdinPipe!.end();
  }
}

/** The log file's records back as the bytes that made them (a full line gets its newline back). */
export function replayLog(file: string): Array<{ stream: LogStream; data: Buffer }> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return replayText(text);
}

export function replayText(text: string): Array<{ stream: LogStream; data: Buffer }> {
  const out: Array<{ stream: LogStream; data: Buffer }> = [];
  for (const line of text.split('\n')) {
    const r = line ? parseLogLine(line) : null;
    if (!r) continue;
    const data = r.partial ? r.text : `${r.text}\n`;
    const last = out[out.length - 1];
    // Consecutive records of one stream travel as one chunk.
    if (last && last.stream === r.stream && last.data.length < 64 * 1024) last.data = Buffer.concat([last.data, Buffer.from(data)]);
    else out.push({ stream: r.stream, data: Buffer.from(data) });
  }
  return out;
}
