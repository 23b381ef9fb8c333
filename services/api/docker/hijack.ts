// Docker's stream answers. A client that sends `Upgrade: tcp` (the CLI's
// attach and exec) gets exactly `HTTP/1.1 101 UPGRADED` and then the raw
// socket; one that does not (dockerode, testcontainers) gets a 200 whose body
// is the stream and ends at close. Either way the caller writes chunks and
// ends; `gone` fires once the client went away.
import type { FastifyReply, FastifyRequest } from 'fastify';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

export interface StreamOut {
  write(chunk: Buffer): void;
  end(): void;
  /** Resolves when the client closed its side or the connection broke. */
  readonly gone: Promise<void>;
  isGone(): boolean;
  /** The socket: stdin.ts reads the client's bytes from it (attach -i, exec -i). */
  readonly socket: import('node:net').Socket;
  readonly upgraded: boolean;
}

export function hijack(request: FastifyRequest, reply: FastifyReply, contentType = RAW_STREAM): StreamOut {
  reply.hijack();
  const socket = request.raw.socket;
  const upgraded = typeof request.headers.upgrade === 'string' && request.headers.upgrade.length > 0;
  let isGone = false;
  const gone = new Promise<void>((resolve) => {
    const done = () => { isGone = true; resolve(); };
    socket.once('close', done);
    // Gone before the hijack (it left while the route opened its stream): 'close' will not come again.
    if (socket.destroyed) done();
    // Without -i the CLI half-closes its side after the request; that is not leaving.
    if (!upgraded) request.raw.once('close', () => { if (socket.destroyed) done(); });
  });
  if (upgraded) {
    // The socket always flows: without a stdin reader (no -i) what the client sends is dropped, so its
    // half-close is seen and its writes never stall; with one (stdin.ts) its own listener gets the bytes too.
    socket.on('data', () => undefined);
    socket.resume(); // upgrade.ts pauses it when it had to wait for the body
    socket.setNoDelay(true);
    socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    return {
      write: (c) => { if (!socket.destroyed) socket.write(c); },
      end: () => { if (!socket.destroyed) socket.end(); },
      gone, isGone: () => isGone, socket, upgraded,
    };
  }
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': contentType });
  res.flushHeaders();
  return {
    write: (c) => { if (!res.writableEnded) res.write(c); },
    end: () => { if (!res.writableEnded) res.end(); },
    gone, isGone: () => isGone, socket, upgraded,
  };
}

/** A JSON answer whose 200 must be out before the work (wait: the CLI blocks on the headers before it starts the container). */
export function flushJson(reply: FastifyReply): { send(body: unknown): void; readonly gone: Promise<void>; isGone(): boolean } {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  let isGone = false;
  const gone = new Promise<void>((resolve) => res.once('close', () => { isGone = !res.writableEnded; resolve(); }));
  return { send: (body) => { if (!res.writableEnded) res.end(`${JSON.stringify(body)}\n`); }, gone, isGone: () => isGone };
}
