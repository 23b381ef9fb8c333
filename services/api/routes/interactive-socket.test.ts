import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { InteractiveSession, OutputChunk, ProcessExit } from '../attach/interactive.js';
import { parseAttachStart } from './exec-socket.js';
import { interactiveSocketHandler } from './interactive-socket.js';

/** A session whose output the test feeds, recording what the socket asked of it. */
class FakeSession implements InteractiveSession {
  readonly calls: string[] = [];
  private push!: (c: OutputChunk | null) => void;
  private readonly queue: Array<OutputChunk | null> = [];
  private settle!: (e: ProcessExit | undefined) => void;
  readonly exit = new Promise<ProcessExit | undefined>((r) => (this.settle = r));
  closed = false;
  readonly output: AsyncIterable<OutputChunk> = (async function* (self: FakeSession) {
    for (;;) {
      const c = self.queue.length > 0 ? self.queue.shift()! : await new Promise<OutputChunk | null>((r) => (self.push = r));
      if (c === null) return;
      yield c;
    }
  })(this);

  emit(c: OutputChunk | null): void {
    if (this.push) {
      const p = this.push;
      this.push = undefined as never;
      p(c);
    } else this.queue.push(c);
  }
  finish(e: ProcessExit | undefined): void {
    this.settle(e);
    this.emit(null);
  }
  async write(d: Buffer) { this.calls.push(`write:${d.toString()}`); }
  async endStdin() { this.calls.push('end'); }
  async resize(rows: number, cols: number) { this.calls.push(`resize:${rows}x${cols}`); }
  async close() {
    this.closed = true;
    this.calls.push('close');
    this.settle(undefined);
    this.emit(null);
  }
}

describe('the interactive socket', () => {
  let app: FastifyInstance;
  let base: string;
  const sessions: FakeSession[] = [];
  const starts: unknown[] = [];

  beforeAll(async () => {
    app = Fastify();
    await app.register(websocket);
    app.get('/attach', { websocket: true }, interactiveSocketHandler(parseAttachStart, async (_req, start) => {
      starts.push(start);
      const s = new FakeSession();
      sessions.push(s);
      return s;
    }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => { await app.close(); });

  function until(pred: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (pred() ? resolve() : setImmediate(check));
      check();
    });
  }

  it('forwards stdin, the half-close and resizes in order, sends output and the exit, then closes', async () => {
    const ws = new WebSocket(`${base}/attach`);
    const got: Array<string | Buffer> = [];
    ws.on('message', (d: Buffer, binary: boolean) => got.push(binary ? Buffer.from(d) : d.toString()));
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    await new Promise((r) => ws.once('open', r));
    // Stdin right behind the start message, before the session exists, keeps its order.
    ws.send(JSON.stringify({ type: 'start', stdin: true, logs: true }));
    ws.send(Buffer.from('abc'), { binary: true });
    ws.send(JSON.stringify({ type: 'resize', rows: 40, cols: 120 }));
    ws.send(JSON.stringify({ type: 'resize', rows: 0, cols: 120 })); // out of range: ignored
    ws.send(JSON.stringify({ type: 'stdin-end' }));
    await until(() => sessions.length === 1 && sessions[0]!.calls.length >= 3);
    const s = sessions[0]!;
    expect(starts[0]).toEqual({ stdin: true, logs: true });
    expect(s.calls).toEqual(['write:abc', 'resize:40x120', 'end']);
    s.emit({ stream: 'stdout', data: Buffer.from('out') });
    s.emit({ stream: 'stderr', data: Buffer.from('err') });
    s.finish({ exitCode: 3, signal: null, oomKilled: false });
    await closed;
    expect(got[0]).toEqual(Buffer.from([1, ...Buffer.from('out')]));
    expect(got[1]).toEqual(Buffer.from([2, ...Buffer.from('err')]));
    expect(JSON.parse(got[2] as string)).toEqual({ exit: 3, signal: null, oomKilled: false });
    expect(s.closed).toBe(true);
  });

  it('closes the session when the client goes away mid-stream', async () => {
    const ws = new WebSocket(`${base}/attach`);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start' }));
    await until(() => sessions.length === 2);
    const s = sessions[1]!;
    s.emit({ stream: 'stdout', data: Buffer.from('x') });
    expect(s.closed).toBe(false); // control: open while the client is there
    ws.terminate();
    await until(() => s.closed);
    expect(s.calls).toContain('close');
  });

  it('answers a bad start message with an error frame naming its field, opening nothing', async () => {
    const ws = new WebSocket(`${base}/attach`);
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', stdin: 'yes' }));
    await closed;
    expect(JSON.parse(got[0]!)).toMatchObject({ error: { code: 'ERR_VALIDATION', field: 'start.stdin' } });
    expect(sessions).toHaveLength(2);
  });
});
