import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ForkdError } from '../../contracts/errors.js';
import type { Containers } from '../containers.js';
import { installErrorHandler } from '../error-handler.js';
import type { HostJobs } from '../host-jobs.js';
import type { StreamLimiter } from '../streams/stream-limiter.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import { containerRoutes } from './containers.js';
import { parseAttachStart, parseStartMessage, refuseQueryArguments } from './exec-socket.js';

function fault(fn: () => unknown): ForkdError {
  try {
    fn();
  } catch (err) {
    return err as ForkdError;
  }
  throw new Error('expected a validation error');
}

describe('the exec start message', () => {
  it('carries the command, env and working directory', () => {
    expect(parseStartMessage('{"type":"start","cmd":["sh","-c","env"],"env":["A=1"],"workingDir":"/tmp"}')).toEqual({ cmd: ['sh', '-c', 'env'], env: ['A=1'], workingDir: '/tmp', stdin: true });
    expect(parseStartMessage('{"type":"start","cmd":["true"]}')).toEqual({ cmd: ['true'], stdin: true });
  });

  it('carries a terminal and its size, and a user', () => {
    expect(parseStartMessage('{"type":"start","cmd":["sh"],"tty":true,"rows":40,"cols":120,"user":"nobody"}'))
      .toEqual({ cmd: ['sh'], stdin: true, tty: true, consoleSize: { rows: 40, cols: 120 }, user: 'nobody' });
    expect(fault(() => parseStartMessage('{"type":"start","cmd":["sh"],"rows":40,"cols":120}'))).toMatchObject({ field: 'start.rows' });
    expect(fault(() => parseStartMessage('{"type":"start","cmd":["sh"],"tty":true,"rows":0,"cols":120}'))).toMatchObject({ field: 'start.rows' });
    expect(fault(() => parseStartMessage('{"type":"start","cmd":["sh"],"tty":"yes"}'))).toMatchObject({ field: 'start.tty' });
  });

  it('attach: stdin, logs and stream, nothing else', () => {
    expect(parseAttachStart('{"type":"start","stdin":true,"logs":true,"stream":false}')).toEqual({ stdin: true, logs: true, stream: false });
    expect(parseAttachStart('{"type":"start"}')).toEqual({});
    expect(fault(() => parseAttachStart('{"type":"start","stdin":1}'))).toMatchObject({ field: 'start.stdin' });
    expect(fault(() => parseAttachStart('{"type":"start","cmd":["sh"]}'))).toMatchObject({ field: 'start.cmd' });
    expect(fault(() => parseAttachStart('{}'))).toMatchObject({ field: 'start.type' });
  });

  it('names the field at fault', () => {
    expect(fault(() => parseStartMessage('not json'))).toMatchObject({ code: 'ERR_VALIDATION', field: 'start.type' });
    expect(fault(() => parseStartMessage('{"type":"stdin-end"}'))).toMatchObject({ field: 'start.type' });
    expect(fault(() => parseStartMessage('{"type":"start","cmd":[]}'))).toMatchObject({ field: 'start.cmd' });
    expect(fault(() => parseStartMessage('{"type":"start","cmd":[1]}'))).toMatchObject({ field: 'start.cmd' });
    expect(fault(() => parseStartMessage('{"type":"start","cmd":["x"],"env":["NOEQUALS"]}'))).toMatchObject({ field: 'start.env' });
    expect(fault(() => parseStartMessage('{"type":"start","cmd":["x"],"workingDir":"rel"}'))).toMatchObject({ field: 'start.workingDir' });
    expect(fault(() => parseStartMessage('{"type":"start","cmd":["x"],"user":5}'))).toMatchObject({ field: 'start.user' });
    expect(fault(() => parseStartMessage('{"type":"start","cmd":["x"],"shell":true}'))).toMatchObject({ field: 'start.shell' });
  });

  it('refuses command and env in the URL, saying where they go now', () => {
    expect(() => refuseQueryArguments({})).not.toThrow();
    const env = fault(() => refuseQueryArguments({ env: ['A=1'] }));
    expect(env).toMatchObject({ code: 'ERR_VALIDATION', field: 'query.env' });
    expect(env.message).toMatch(/first WebSocket message.*"type":"start"/);
    expect(fault(() => refuseQueryArguments({ cmd: ['sh'] }))).toMatchObject({ field: 'query.cmd' });
    expect(fault(() => refuseQueryArguments({ other: 'x' }))).toMatchObject({ field: 'query.other' });
  });
});

describe('GET /v1/containers/:id/exec (WebSocket)', () => {
  let app: FastifyInstance;
  let base: string;
  const asked: string[] = [];

  beforeAll(async () => {
    app = Fastify();
    installErrorHandler(app);
    await app.register(websocket);
    // Only the lookup is reached here: it answers "no such container", which the socket reports as an error frame.
    const containers = {
      running: async (_t: string, id: string) => { asked.push(id); throw new ForkdError('ERR_NOT_FOUND', `no container ${id}`); },
    } as unknown as Containers;
    const tenancy = { tenantIdOf: async () => 't1', scopeOf: async () => ({ tenantId: 't1' }) } as unknown as Tenancy;
    await app.register(containerRoutes, { containers, tenancy, hostJobs: {} as HostJobs, redis: {} as Redis, streams: {} as StreamLimiter });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => { await app.close(); });

  it('answers the old ?env= form with HTTP 400 naming query.env, and takes the command from the start message', async () => {
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`${base}/v1/containers/c1/exec?cmd=env&env=TOKEN%3Dsecret`);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('open', () => reject(new Error('the upgrade should have been refused')));
    });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'ERR_VALIDATION', field: 'query.env' } });
    expect(asked).toEqual([]);

    // Control: the same request without a query upgrades, and the start message reaches the container lookup.
    const frames = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const ws = new WebSocket(`${base}/v1/containers/c2/exec`);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'start', cmd: ['env'], env: ['TOKEN=secret'] })));
      ws.on('message', (d: Buffer) => got.push(d.toString()));
      ws.on('close', () => resolve(got));
      ws.on('error', reject);
    });
    expect(asked).toEqual(['c2']);
    expect(frames.map((f) => JSON.parse(f))).toEqual([{ error: { code: 'ERR_NOT_FOUND', message: 'no container c2' } }]);
  });

  it('reports a bad start message as an error frame naming its field, then closes', async () => {
    const frames = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const ws = new WebSocket(`${base}/v1/containers/c3/exec`);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'start', cmd: [] })));
      ws.on('message', (d: Buffer) => got.push(d.toString()));
      ws.on('close', () => resolve(got));
      ws.on('error', reject);
    });
    expect(JSON.parse(frames[0]!)).toMatchObject({ error: { code: 'ERR_VALIDATION', field: 'start.cmd' } });
    expect(asked).not.toContain('c3');
  });
});

describe('streams past the limit', () => {
  let app: FastifyInstance;
  let base: string;
  const acquired: Array<[string, string]> = [];

  beforeAll(async () => {
    app = Fastify();
    installErrorHandler(app);
    await app.register(websocket);
    const row = { id: 'c1', tenantId: 't1', vmId: 'v1', vm: { hostId: 'h1' } };
    const containers = { row: async () => row, running: async () => row } as unknown as Containers;
    const tenancy = { tenantIdOf: async () => 't1', scopeOf: async () => ({ tenantId: 't1' }) } as unknown as Tenancy;
    // A limiter that is always full: no job may be enqueued (hostJobs is empty and would throw).
    const streams = {
      acquire: async (tenantId: string, hostId: string) => {
        acquired.push([tenantId, hostId]);
        throw new ForkdError('ERR_TOO_MANY_STREAMS', 'this tenant already has 3 open streams', { detail: { scope: 'tenant', limit: 3 } });
      },
    } as unknown as StreamLimiter;
    await app.register(containerRoutes, { containers, tenancy, hostJobs: {} as HostJobs, redis: {} as Redis, streams });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => { await app.close(); });

  it('answers logs and exec with 429 ERR_TOO_MANY_STREAMS, and the WebSocket with an error frame, before any job', async () => {
    const logs = await fetch(`http://${base}/v1/containers/c1/logs?follow=true`);
    expect(logs.status).toBe(429);
    expect(await logs.json()).toMatchObject({ error: { code: 'ERR_TOO_MANY_STREAMS', detail: { scope: 'tenant' } } });
    const exec = await fetch(`http://${base}/v1/containers/c1/exec`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ command: ['true'] }) });
    expect(exec.status).toBe(429);
    const frames = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const ws = new WebSocket(`ws://${base}/v1/containers/c1/exec`);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'start', cmd: ['sh'] })));
      ws.on('message', (d: Buffer) => got.push(d.toString()));
      ws.on('close', () => resolve(got));
      ws.on('error', reject);
    });
    expect(frames.map((f) => JSON.parse(f))).toEqual([{ error: expect.objectContaining({ code: 'ERR_TOO_MANY_STREAMS' }) }]);
    // Control: each request reached the limiter with its tenant and the container's host.
    expect(acquired).toEqual([['t1', 'h1'], ['t1', 'h1'], ['t1', 'h1']]);
  });
});
