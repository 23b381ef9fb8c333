// /v1/containers: create (each in its own VM), list, inspect, logs, exec, wait,
// stop, kill, remove. Schemas first; handlers call Containers (the rules) and
// relay byte streams from hostd.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type {} from '@fastify/websocket';
import type { WebSocket } from 'ws';
import { ForkdError } from '../../contracts/errors.js';
import type { Containers, CreateContainerBody } from '../containers.js';
import type { HostJobs } from '../host-jobs.js';
import { NETWORK_NAME_PATTERN } from '../networks/routes.js';
import { openRelay, type RelaySession } from '../io-relay.js';
import { operationEnvelopeSchema, sendAccepted } from '../operations/routes.js';
import type { Tenancy } from '../tenancy.js';

const argv = { type: 'array', items: { type: 'string', maxLength: 32768 }, maxItems: 1024 } as const;
const envList = { type: 'array', items: { type: 'string', pattern: '^[^=]+=', maxLength: 32768 }, maxItems: 1024 } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

const containerSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, image: { type: 'string' }, command: { type: 'array', items: { type: 'string' } },
    state: { type: 'string' }, exitCode: { type: ['integer', 'null'] }, oomKilled: { type: 'boolean' },
    createdAt: { type: 'string' }, startedAt: { type: ['string', 'null'] }, finishedAt: { type: ['string', 'null'] },
    ports: { type: 'array', items: { type: 'object', properties: { containerPort: { type: 'integer' }, hostAddress: { type: 'string' }, hostPort: { type: 'integer' } } } },
    network: { type: ['object', 'null'], properties: { id: { type: 'string' }, name: { type: 'string' }, address: { type: 'string' } } },
    vm: {
      type: 'object',
      properties: {
        id: { type: 'string' }, hostId: { type: 'string' }, domainName: { type: 'string' }, boot: { type: 'string' }, vcpus: { type: 'integer' }, memoryMib: { type: 'integer' },
        timings: { type: 'object', additionalProperties: { type: 'number' } },
      },
    },
  },
} as const;

export const createContainerSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['image'],
    properties: {
      image: { type: 'string', minLength: 1, maxLength: 300 },
      command: argv,
      entrypoint: argv,
      env: envList,
      workingDir: { type: 'string', pattern: '^/', maxLength: 4096 },
      user: { type: 'string', minLength: 1, maxLength: 256 },
      name: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$' },
      memoryMib: { type: 'integer', minimum: 8, maximum: 1048576 },
      cpus: { type: 'number', minimum: 0.01, maximum: 256 },
      pids: { type: 'integer', minimum: 1, maximum: 4194304 },
      vm: {
        type: 'object',
        additionalProperties: false,
        properties: { vcpus: { type: 'integer', minimum: 1, maximum: 64 }, memoryMib: { type: 'integer', minimum: 128, maximum: 262144 } },
      },
      boot: { type: 'string', enum: ['cold', 'fork'] },
      ports: {
        type: 'array',
        maxItems: 32,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['containerPort'],
          properties: {
            containerPort: { type: 'integer', minimum: 1, maximum: 65535 },
            hostPort: { type: 'integer', minimum: 0, maximum: 65535 },
            // IPv4, checked by ports.ts (field `ports`, as hostd's port conflicts are).
            hostIp: { type: 'string', maxLength: 64 },
          },
        },
      },
      // A name or an id (ids are uuids, which the name pattern also admits).
      network: { type: 'string', pattern: NETWORK_NAME_PATTERN },
    },
  },
  // The work goes on after the answer: follow the operation (its result is this container, as containerSchema).
  response: { 202: operationEnvelopeSchema },
} as const;

export const listContainersSchema = {
  querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } },
  response: { 200: { type: 'object', properties: { containers: { type: 'array', items: containerSchema } } } },
} as const;

export const getContainerSchema = { params: idParams, response: { 200: containerSchema } } as const;

export const logsSchema = {
  params: idParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { follow: { type: 'boolean' }, tail: { type: 'integer', minimum: 0, maximum: 1000000 }, format: { type: 'string', enum: ['raw', 'ndjson'] } },
  },
} as const;

export const execSchema = {
  params: idParams,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['command'],
    properties: {
      command: { ...argv, minItems: 1 },
      env: envList,
      workingDir: { type: 'string', pattern: '^/', maxLength: 4096 },
      stdin: { type: 'string', maxLength: 16 * 1024 * 1024 },
    },
  },
} as const;

export const execWebSocketSchema = {
  params: idParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    required: ['cmd'],
    properties: { cmd: { type: 'array', items: { type: 'string', maxLength: 32768 }, minItems: 1, maxItems: 1024 }, env: { type: 'array', items: { type: 'string', pattern: '^[^=]+=' } } },
  },
} as const;

export const waitSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { timeoutSec: { type: 'integer', minimum: 0, maximum: 86400 } } },
  response: { 200: containerSchema },
} as const;

export const stopSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { timeoutSec: { type: 'integer', minimum: 0, maximum: 3600 } } },
  response: { 200: containerSchema },
} as const;

export const killSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { signal: { type: 'string', pattern: '^(SIG)?[A-Z0-9]{1,10}$|^[0-9]{1,2}$' } } },
  response: { 200: containerSchema },
} as const;

export const removeSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { force: { type: 'boolean' } } },
  response: { 200: containerSchema },
} as const;

export interface ContainerRouteOptions {
  containers: Containers;
  tenancy: Tenancy;
  hostJobs: HostJobs;
  redis: Redis;
}

type Id = { Params: { id: string } };

export async function containerRoutes(app: FastifyInstance, opts: ContainerRouteOptions): Promise<void> {
  const { containers, tenancy } = opts;
  const tenant = (r: FastifyRequest) => tenancy.tenantIdOf(r);

  app.post<{ Body: CreateContainerBody }>('/v1/containers', { schema: createContainerSchema }, async (request, reply) => {
    return sendAccepted(reply, await containers.create(await tenant(request), request.body));
  });

  app.get<{ Querystring: { all?: boolean } }>('/v1/containers', { schema: listContainersSchema }, async (request) => {
    return { containers: await containers.list(await tenant(request), { all: request.query.all ?? false }) };
  });

  app.get<Id>('/v1/containers/:id', { schema: getContainerSchema }, async (request) => containers.get(await tenant(request), request.params.id));

  app.post<Id & { Querystring: { timeoutSec?: number } }>('/v1/containers/:id/wait', { schema: waitSchema }, async (request) => {
    return containers.wait(await tenant(request), request.params.id, (request.query.timeoutSec ?? 3600) * 1000);
  });

  app.post<Id & { Querystring: { timeoutSec?: number } }>('/v1/containers/:id/stop', { schema: stopSchema }, async (request) => {
    return containers.stop(await tenant(request), request.params.id, request.query.timeoutSec ?? 10);
  });

  app.post<Id & { Querystring: { signal?: string } }>('/v1/containers/:id/kill', { schema: killSchema }, async (request) => {
    return containers.signal(await tenant(request), request.params.id, request.query.signal ?? 'SIGKILL');
  });

  app.delete<Id & { Querystring: { force?: boolean } }>('/v1/containers/:id', { schema: removeSchema }, async (request) => {
    return containers.remove(await tenant(request), request.params.id, request.query.force ?? false);
  });

  app.get<Id & { Querystring: { follow?: boolean; tail?: number; format?: 'raw' | 'ndjson' } }>('/v1/containers/:id/logs', { schema: logsSchema }, async (request, reply) => {
    const row = await containers.row(await tenant(request), request.params.id);
    const { follow = false, tail, format = 'raw' } = request.query;
    const relay = openRelay(opts.redis, (session) => opts.hostJobs.call(row.vm.hostId, 'container.logs', {
      vmId: row.vmId, containerId: row.id, session, follow, ...(tail === undefined ? {} : { tail }),
    }, { timeoutMs: follow ? 7 * 24 * 3600_000 : 120_000 }));
    await streamToHttp(request, reply, relay, format);
  });

  app.post<Id & { Body: { command: string[]; env?: string[]; workingDir?: string; stdin?: string } }>('/v1/containers/:id/exec', { schema: execSchema }, async (request, reply) => {
    const row = await containers.running(await tenant(request), request.params.id);
    const { command, env, workingDir, stdin } = request.body;
    const relay = openRelay(opts.redis, (session) => opts.hostJobs.call(row.vm.hostId, 'container.exec', {
      vmId: row.vmId, containerId: row.id, session, command, stdin: stdin !== undefined,
      ...(env ? { env } : {}), ...(workingDir ? { workingDir } : {}),
    }, { timeoutMs: 24 * 3600_000 }));
    if (stdin !== undefined) {
      await relay.input.write('stdin', Buffer.from(stdin));
      await relay.input.write('stdin-end');
    }
    await streamToHttp(request, reply, relay, 'ndjson');
  });

  // Interactive exec: a WebSocket. Binary messages from the client are stdin; a
  // text message `{"type":"stdin-end"}` closes stdin. The server sends binary
  // messages whose first byte is 1 (stdout) or 2 (stderr), then one text message
  // `{"exit":N}` or `{"error":{…}}`, then closes.
  app.get<Id & { Querystring: { cmd: string[]; env?: string[] } }>('/v1/containers/:id/exec', { schema: execWebSocketSchema, websocket: true }, async (socket: WebSocket, request) => {
    let relay: RelaySession | undefined;
    // The client may send stdin as soon as the socket opens, before the container
    // is looked up: hold it until the session exists, in order.
    let opened!: (r: RelaySession) => void;
    const relayReady = new Promise<RelaySession>((resolve) => { opened = resolve; });
    let chain = Promise.resolve();
    const forward = (m: { kind: 'stdin' | 'stdin-end'; data?: Buffer }) => {
      chain = chain.then(async () => { await (await relayReady).input.write(m.kind, m.data); }).catch(() => {});
    };
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) forward({ kind: 'stdin', data });
      else if (data.toString().includes('stdin-end')) forward({ kind: 'stdin-end' });
    });
    let closed = false;
    socket.on('close', () => { closed = true; void relay?.close(); });
    try {
      const row = await containers.running(await tenant(request), request.params.id);
      relay = openRelay(opts.redis, (session) => opts.hostJobs.call(row.vm.hostId, 'container.exec', {
        vmId: row.vmId, containerId: row.id, session, command: request.query.cmd, stdin: true, ...(request.query.env ? { env: request.query.env } : {}),
      }, { timeoutMs: 24 * 3600_000 }));
      opened(relay);
      if (closed) return;
      for await (const f of relay.frames) {
        if (f.kind === 'stdout' || f.kind === 'stderr') socket.send(Buffer.concat([Buffer.from([f.kind === 'stdout' ? 1 : 2]), f.data]));
        else if (f.kind === 'exit') socket.send(JSON.stringify({ exit: Number(f.data.toString()) }));
        else if (f.kind === 'error') socket.send(f.data.toString());
      }
    } catch (err) {
      const fe = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String(err));
      socket.send(JSON.stringify(fe.toJSON()));
    } finally {
      await relay?.close();
      socket.close();
    }
  });
}

/**
 * Writes relay frames as the response body: `raw` (stdout and stderr bytes as
 * they come, for curl) or `ndjson` (one JSON object a line:
 * `{"stream":"stdout","data":"<base64>"}`, `{"exit":N}`, `{"error":{…}}`).
 */
async function streamToHttp(request: FastifyRequest, reply: FastifyReply, relay: RelaySession, format: 'raw' | 'ndjson'): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': format === 'ndjson' ? 'application/x-ndjson' : 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  let clientGone = false;
  request.raw.socket.once('close', () => { clientGone = true; void relay.close(); });
  try {
    for await (const f of relay.frames) {
      if (clientGone) break;
      if (f.kind === 'stdout' || f.kind === 'stderr') {
        res.write(format === 'raw' ? f.data : JSON.stringify({ stream: f.kind, data: f.data.toString('base64') }) + '\n');
      } else if (f.kind === 'exit' && format === 'ndjson') {
        res.write(JSON.stringify({ exit: Number(f.data.toString()) }) + '\n');
      } else if (f.kind === 'error') {
        res.write(format === 'raw' ? `\nforkd: ${f.data.toString()}\n` : f.data.toString() + '\n');
      }
    }
  } finally {
    await relay.close();
    res.end();
  }
}
