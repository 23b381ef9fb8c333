// The Docker server's own behaviour, without VMs: negotiation headers, the
// version range, Docker-shaped errors, what is not supported, keys on TCP,
// and upgrade requests routed like any other. Services are fakes: only the
// routes that need none are driven here (test/docker.test.ts drives the rest).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServices } from '../services.js';
import { buildDockerServer } from './server.js';
import { DockerState } from './settings.js';

const fakeServices = {
  keys: { findActiveKeyByHash: async () => null },
  tenancy: { tenantIdOf: async () => 'tenant-1' },
} as unknown as ApiServices;

let dir: string;
let socketApp: FastifyInstance;
let keyApp: FastifyInstance;
let socket: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forkd-docker-unit-'));
  socket = join(dir, 'd.sock');
  const ctx = { services: fakeServices, state: new DockerState() };
  socketApp = await buildDockerServer(ctx, 'socket', 'error');
  await socketApp.listen({ path: socket });
  keyApp = await buildDockerServer(ctx, 'key', 'error');
});

afterAll(async () => {
  await socketApp?.close();
  await keyApp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Docker server', () => {
  it('answers HEAD and GET /_ping with the negotiation headers', async () => {
    for (const method of ['HEAD', 'GET'] as const) {
      const r = await socketApp.inject({ method, url: '/_ping' });
      expect(r.statusCode).toBe(200);
      expect(r.headers['api-version']).toBe('1.50');
      expect(r.headers['docker-experimental']).toBe('false');
      expect(r.headers['swarm']).toBe('inactive');
    }
  });

  it('takes /v1.NN/ paths in range and refuses others with a 400 in Docker\'s shape', async () => {
    expect((await socketApp.inject({ method: 'GET', url: '/v1.41/_ping' })).statusCode).toBe(200);
    const r = await socketApp.inject({ method: 'GET', url: '/v1.23/_ping' });
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json()).toEqual({ message: 'client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version' });
  });

  it('says what forkd does not support, and 404s what Docker does not have', async () => {
    const build = await socketApp.inject({ method: 'POST', url: '/v1.50/build?t=x' });
    expect(build.statusCode).toBe(501);
    expect(build.json().message).toMatch(/^building images \(docker build\) is not supported by forkd/);
    const pause = await socketApp.inject({ method: 'POST', url: '/containers/abc/pause' });
    expect(pause.statusCode).toBe(501);
    // A bad events filter is refused before the stream starts, naming it.
    const events = await socketApp.inject({ method: 'GET', url: '/events?filters=%7B%22colour%22%3A%5B%22red%22%5D%7D' });
    expect(events.statusCode).toBe(400);
    expect(events.json().message).toMatch(/invalid filter 'colour'/);
    const nothing = await socketApp.inject({ method: 'GET', url: '/nothing/here' });
    expect(nothing.statusCode).toBe(404);
    expect(nothing.json().message).toMatch(/page not found/);
  });

  it('answers a malformed JSON body with a 400 naming it', async () => {
    const r = await socketApp.inject({ method: 'POST', url: '/containers/create', headers: { 'content-type': 'application/json' }, payload: '{"Image":' });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/invalid JSON/);
  });

  it('on TCP, refuses a request without a live key (401), and lets /_ping through only with one', async () => {
    const none = await keyApp.inject({ method: 'GET', url: '/_ping' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['content-type']).toBe('application/json');
    expect(none.json().message).toMatch(/missing API key/);
    const unknown = await keyApp.inject({ method: 'GET', url: '/_ping', headers: { authorization: 'Bearer fk_unknown' } });
    expect(unknown.statusCode).toBe(401);
    // On the socket the same request needs no key.
    expect((await socketApp.inject({ method: 'GET', url: '/_ping' })).statusCode).toBe(200);
  });

  it('routes an upgrade request like any other: an error before the 101 is a plain answer, then the connection ends', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const s = connect(socket, () => {
        const body = '{"Detach":false,"Tty":false}';
        s.write(`POST /v1.50/exec/nosuch/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      });
      let got = '';
      s.on('data', (d: Buffer) => { got += d.toString(); });
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });
    expect(text).toMatch(/^HTTP\/1.1 404/);
    expect(text).toMatch(/content-type: application\/json\r\n/i);
    expect(text).toMatch(/\{"message":"No such exec instance: nosuch"\}/);
  });
});
