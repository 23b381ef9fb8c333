// Requests that ask to be upgraded (`Connection: Upgrade`, `Upgrade: tcp`:
// the CLI's attach and exec start) arrive on Node's `upgrade` event, with the
// HTTP parser already off the socket, so the client's stdin bytes and its
// half-close are not read as HTTP. They are routed through fastify like any
// other request; the handler hijacks and writes `101 UPGRADED` (hijack.ts).
//
// Node hands over the bytes that followed the headers (`head`): the request's
// body (exec start's JSON) and, after it, the first stdin bytes. The body is
// parsed here and given to the route as `request.body`; the rest waits in
// `upgradeRest` for the stdin reader (stdin.ts).
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'node:http' {
  interface IncomingMessage {
    /** An upgraded request's JSON body, parsed from the bytes after its headers. */
    upgradeBody?: unknown;
    /** Bytes the client sent after the body (stdin), for whoever takes stdin. */
    upgradeRest?: Buffer;
  }
}

/** The body of a request, upgraded or not. */
export function bodyOf<T>(request: FastifyRequest): T | undefined {
  return (request.body ?? request.raw.upgradeBody) as T | undefined;
}

export function routeUpgrades(app: FastifyInstance): void {
  app.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const length = Number(req.headers['content-length'] ?? 0) || 0;
    // The body may come after the headers in a packet of its own (the CLI's exec start does): wait for
    // all of it, or it would be read as the process's stdin.
    if (head.length >= length) return route(app, req, socket, head, length);
    let got = head;
    const more = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < length) return;
      socket.off('data', more);
      socket.off('end', short);
      socket.pause();
      route(app, req, socket, got, length);
    };
    const short = () => socket.destroy(); // the client ended before its body: nothing to answer
    socket.on('data', more);
    socket.once('end', short);
  });
}

function route(app: FastifyInstance, req: IncomingMessage, socket: Socket, head: Buffer, length: number): void {
  {
    const body = head.subarray(0, length);
    req.upgradeRest = head.subarray(length);
    if (body.length > 0) {
      try {
        req.upgradeBody = JSON.parse(body.toString());
      } catch {
        req.upgradeBody = undefined; // a body that is not JSON: the route sees none, as with an empty one
      }
    }
    // The body is taken: fastify must not wait for one on a stream that already ended.
    delete req.headers['content-length'];
    delete req.headers['content-type'];
    delete req.headers['transfer-encoding'];
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    // An answer that is not a hijack (an error before the 101) ends the connection, as the client expects.
    res.once('finish', () => socket.end());
    // A client gone mid-stream makes writes fail (EPIPE, ECONNRESET): that ends the stream, it must never reach the process as an unhandled error.
    socket.on('error', () => socket.destroy());
    app.routing(req, res);
  }
}
