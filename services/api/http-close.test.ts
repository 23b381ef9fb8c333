// A closing forkd server does not wait on clients that do nothing, lets
// running requests finish, and cuts the ones that outlive the drain. Real
// fastify servers on loopback; the test's own timeout bounds every close (a
// server that waited on the idle client would hang far past it).
import { request as httpRequest, Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { closeConnectionsOnClose } from './http-close.js';

let app: FastifyInstance | undefined;
afterEach(async () => { await app?.close(); app = undefined; });

async function serve(drainMs: number, routes: (a: FastifyInstance) => void): Promise<{ port: number }> {
  app = Fastify();
  closeConnectionsOnClose(app, drainMs);
  routes(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as { port: number }).port };
}

function get(port: number, path: string, agent?: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const closed = (s: Socket) => new Promise<void>((resolve) => { if (s.destroyed) resolve(); else s.once('close', () => resolve()); });

describe('closing a forkd HTTP server', () => {
  it('ends idle keep-alive connections and ones that never sent a request, instead of waiting for the client', async () => {
    const { port } = await serve(5_000, (a) => a.get('/ping', async () => 'pong'));
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    expect(await get(port, '/ping', agent)).toEqual({ status: 200, body: 'pong' }); // the keep-alive socket now idles in the agent
    const kept = Object.values(agent.freeSockets).flat()[0]!;
    expect(kept.destroyed).toBe(false);
    const silent = connect(port, '127.0.0.1');
    await new Promise((r) => silent.once('connect', r));

    await app!.close();
    await Promise.all([closed(kept), closed(silent)]);
    agent.destroy();
  });

  it('lets a running request finish', async () => {
    let release!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => { started = r; });
    const { port } = await serve(5_000, (a) => a.get('/slow', async () => { started(); await new Promise<void>((r) => { release = r; }); return 'done'; }));
    const answer = get(port, '/slow');
    await running;
    const closing = app!.close();
    release();
    expect(await answer).toEqual({ status: 200, body: 'done' });
    await closing;
  });

  it('cuts a request that outlives the drain', async () => {
    const { port } = await serve(100, (a) => { a.get('/never', () => new Promise(() => {})); a.get('/ping', async () => 'pong'); });
    expect(await get(port, '/ping')).toEqual({ status: 200, body: 'pong' }); // the control: the same server answers what ends
    const answer = get(port, '/never').then(() => 'answered', (err: Error) => err.message);
    await new Promise((r) => setTimeout(r, 50)); // the request is running on the server
    await app!.close();
    expect(await answer).toMatch(/socket hang up|ECONNRESET/);
  });
});
