// The WebSocket both the exec and the attach routes speak, over an
// InteractiveSession (services/api/attach/interactive.ts).
//
// Client → server: the first text message says what to open (exec: its
// command; attach: its options), parsed by the route's `parse`. Then binary
// messages are stdin, `{"type":"stdin-end"}` is the half-close and
// `{"type":"resize","rows":R,"cols":C}` sizes the terminal.
// Server → client: binary messages whose first byte is 1 (stdout) or 2
// (stderr), then one text message `{"exit":N,…}` or `{"error":{…}}`, then close.
// A client that goes away closes the session: its stream lease and the host's
// job end with it.
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { ForkdError } from '../../contracts/errors.js';
import type { InteractiveSession } from '../attach/interactive.js';

/** How long a socket may stay open without its start message. */
export const START_TIMEOUT_MS = 30_000;

type Control = { type: 'stdin-end' } | { type: 'resize'; rows: number; cols: number } | null;

export function interactiveSocketHandler<S>(parse: (text: string) => S, open: (request: FastifyRequest, start: S) => Promise<InteractiveSession>) {
  return async (socket: WebSocket, request: FastifyRequest): Promise<void> => {
    let session: InteractiveSession | undefined;
    let started!: (s: S) => void;
    let failed!: (e: ForkdError) => void;
    const startMessage = new Promise<S>((resolve, reject) => { started = resolve; failed = reject; });
    // Stdin may arrive right behind the start message, before the session exists: hold it, in order.
    let opened!: (s: InteractiveSession) => void;
    const ready = new Promise<InteractiveSession>((resolve) => { opened = resolve; });
    let chain = Promise.resolve();
    const forward = (f: (s: InteractiveSession) => Promise<void>) => {
      // A write that fails means the session is gone; the output loop below reports why.
      chain = chain.then(async () => { await f(await ready); }).catch(() => {});
    };
    let gotStart = false;
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return forward((s) => s.write(data));
      if (!gotStart) {
        gotStart = true;
        try {
          started(parse(data.toString()));
        } catch (err) {
          failed(err as ForkdError);
        }
        return;
      }
      const c = control(data);
      if (c?.type === 'stdin-end') forward((s) => s.endStdin());
      else if (c?.type === 'resize') forward((s) => s.resize(c.rows, c.cols));
    });
    let closed = false;
    socket.on('close', () => {
      closed = true;
      failed(new ForkdError('ERR_VALIDATION', 'the client closed the socket before its start message', { field: 'start.type' }));
      void session?.close();
    });
    const timer = setTimeout(() => failed(new ForkdError('ERR_VALIDATION', `no start message within ${START_TIMEOUT_MS / 1000} s: send {"type":"start",…} first`, { field: 'start.type' })), START_TIMEOUT_MS);
    try {
      const start = await startMessage;
      clearTimeout(timer);
      session = await open(request, start);
      opened(session);
      if (closed) return;
      for await (const c of session.output) {
        if (closed) break;
        socket.send(Buffer.concat([Buffer.from([c.stream === 'stdout' ? 1 : 2]), c.data]));
      }
      const exit = await session.exit;
      if (exit && !closed) socket.send(JSON.stringify({ exit: exit.exitCode, signal: exit.signal, oomKilled: exit.oomKilled }));
    } catch (err) {
      const fe = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String(err));
      if (!closed) socket.send(JSON.stringify(fe.toJSON()));
    } finally {
      clearTimeout(timer);
      await session?.close();
      socket.close();
    }
  };
}

function control(data: Buffer): Control {
  try {
    const m = JSON.parse(data.toString()) as { type?: unknown; rows?: unknown; cols?: unknown };
    if (m?.type === 'stdin-end') return { type: 'stdin-end' };
    if (m?.type === 'resize' && isSize(m.rows) && isSize(m.cols)) return { type: 'resize', rows: m.rows, cols: m.cols };
  } catch {
    // not a control message: ignored
  }
  return null;
}

function isSize(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 4096;
}
