// /v1/containers: create (each in its own VM), list, inspect, logs, exec, wait,
// stop, kill, remove. Schemas first; handlers call Containers (the rules) and
// relay byte streams from hostd.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type {} from '@fastify/websocket';
import type { Containers, CreateContainerBody } from '../containers.js';
import type { HostJobs } from '../host-jobs.js';
import { NETWORK_NAME_PATTERN } from '../networks/routes.js';
import { MAX_VOLUMES_PER_CONTAINER } from '../../contracts/jobs.js';
import { openRelay, type RelaySession } from '../io-relay.js';
import { operationEnvelopeSchema, sendAccepted } from '../operations/routes.js';
import type { StreamLimiter } from '../streams/stream-limiter.js';
import { tenantQueryProperties } from '../tenancy/scope.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import { parseAttachStart, parseStartMessage, refuseQueryArguments } from './exec-socket.js';
import { interactiveSocketHandler } from './interactive-socket.js';
import { Interactive } from '../attach/interactive.js';

const argv = { type: 'array', items: { type: 'string', maxLength: 32768 }, maxItems: 1024 } as const;
const envList = { type: 'array', items: { type: 'string', pattern: '^[^=]+=', maxLength: 32768 }, maxItems: 1024 } as const;
const terminalSize = {
  type: 'object', additionalProperties: false, required: ['rows', 'cols'],
  properties: { rows: { type: 'integer', minimum: 1, maximum: 4096 }, cols: { type: 'integer', minimum: 1, maximum: 4096 } },
} as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

/** Admin keys, by id: which tenant (default: any; needed only when a name is taken in several). */
const tenantOnly = { tenant: tenantQueryProperties.tenant } as const;

const containerSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, tenantId: { type: 'string' }, name: { type: 'string' }, image: { type: 'string' }, command: { type: 'array', items: { type: 'string' } },
    // `KEY=<redacted>` unless GET /v1/containers/:id?showEnv=true.
    env: { type: 'array', items: { type: 'string' } },
    state: { type: 'string' }, exitCode: { type: ['integer', 'null'] }, oomKilled: { type: 'boolean' },
    createdAt: { type: 'string' }, startedAt: { type: ['string', 'null'] }, finishedAt: { type: ['string', 'null'] },
    ports: { type: 'array', items: { type: 'object', properties: { containerPort: { type: 'integer' }, hostAddress: { type: 'string' }, hostPort: { type: 'integer' } } } },
    network: { type: ['object', 'null'], properties: { id: { type: 'string' }, name: { type: 'string' }, address: { type: 'string' } } },
    volumes: { type: 'array', items: { type: 'object', properties: { volumeId: { type: 'string' }, name: { type: 'string' }, path: { type: 'string' }, readOnly: { type: 'boolean' } } } },
    vm: {
      type: 'object',
      properties: {
        id: { type: 'string' }, hostId: { type: 'string' }, domainName: { type: 'string' }, boot: { type: 'string' }, vcpus: { type: 'integer' }, memoryMib: { type: 'integer' },
        timings: { type: 'object', additionalProperties: { type: 'number' } },
      },
    },
    podId: { type: ['string', 'null'] },
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
      aliases: { type: 'array', maxItems: 6, items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' } },
      // Named volumes (docs/volumes.md): a name that does not exist is created. volumes/rules.ts checks paths and repeats.
      volumes: {
        type: 'array',
        maxItems: MAX_VOLUMES_PER_CONTAINER,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['volume', 'path'],
          properties: {
            volume: { type: 'string', minLength: 1, maxLength: 128 },
            path: { type: 'string', minLength: 1, maxLength: 4096 },
            readOnly: { type: 'boolean' },
          },
        },
      },
      // docs/interactive.md: a terminal for the main process, its stdin kept open for attach.
      tty: { type: 'boolean' },
      openStdin: { type: 'boolean' },
      consoleSize: terminalSize,
      // false: made (VM, image, container) but not started; POST /v1/containers/:id/start starts it.
      start: { type: 'boolean' },
      // A pod's name or id (docs/pods.md): the container runs in the pod's VM.
      pod: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
  // The work goes on after the answer: follow the operation (its result is this container, as containerSchema).
  response: { 202: operationEnvelopeSchema },
} as const;

export const listContainersSchema = {
  querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' }, ...tenantQueryProperties } },
  response: { 200: { type: 'object', properties: { containers: { type: 'array', items: containerSchema } } } },
} as const;

export const getContainerSchema = {
  params: idParams,
  // showEnv: env values in the clear; without it, names only (values are often secrets).
  querystring: { type: 'object', additionalProperties: false, properties: { showEnv: { type: 'boolean' }, ...tenantOnly } },
  response: { 200: containerSchema },
} as const;

export const logsSchema = {
  params: idParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { follow: { type: 'boolean' }, tail: { type: 'integer', minimum: 0, maximum: 1000000 }, format: { type: 'string', enum: ['raw', 'ndjson'] }, ...tenantOnly },
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

/** The command and env come in the first message, never the URL (exec-socket.ts); any query is refused by refuseQueryArguments. */
export const execWebSocketSchema = { params: idParams } as const;

/** Options come in the first message (interactive-socket.ts), as for exec. */
export const attachWebSocketSchema = { params: idParams, querystring: { type: 'object', additionalProperties: false, properties: {} } } as const;

/** h and w as Docker names them: rows and columns. */
export const resizeSchema = {
  params: idParams,
  querystring: {
    type: 'object', additionalProperties: false, required: ['h', 'w'],
    properties: { h: { type: 'integer', minimum: 1, maximum: 4096 }, w: { type: 'integer', minimum: 1, maximum: 4096 } },
  },
} as const;

export const waitSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { timeoutSec: { type: 'integer', minimum: 0, maximum: 86400 }, ...tenantOnly } },
  response: { 200: containerSchema },
} as const;

export const startSchema = { params: idParams, response: { 200: containerSchema } } as const;

export const stopSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { timeoutSec: { type: 'integer', minimum: 0, maximum: 3600 }, ...tenantOnly } },
  response: { 200: containerSchema },
} as const;

export const killSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { signal: { type: 'string', pattern: '^(SIG)?[A-Z0-9]{1,10}$|^[0-9]{1,2}$' }, ...tenantOnly } },
  response: { 200: containerSchema },
} as const;

export const removeSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { force: { type: 'boolean' }, ...tenantOnly } },
  response: { 200: containerSchema },
} as const;

export interface ContainerRouteOptions {
  containers: Containers;
  tenancy: Tenancy;
  hostJobs: HostJobs;
  redis: Redis;
  /** Caps concurrent streams per tenant and per host; every relay session holds one of its leases. */
  streams: StreamLimiter;
  /** Attach and interactive exec (made from the above when absent). */
  interactive?: Interactive;
}

type Id = { Params: { id: string } };

export async function containerRoutes(app: FastifyInstance, opts: ContainerRouteOptions): Promise<void> {
  const { containers, tenancy } = opts;
  // By id: a tenant key its own containers; an admin key any tenant's (or ?tenant=).
  const tenant = (r: FastifyRequest) => tenancy.scopeOf(r, { byId: true });
  const interactive = opts.interactive ?? new Interactive({ containers, hostJobs: opts.hostJobs, redis: opts.redis, streams: opts.streams });

  app.post<{ Body: CreateContainerBody }>('/v1/containers', { schema: createContainerSchema }, async (request, reply) => {
    const actor = await tenancy.actorOf(request);
    tenancy.assertMayPublish(actor, request.body.ports);
    return sendAccepted(reply, await containers.create(actor.tenantId, request.body));
  });

  app.get<{ Querystring: { all?: boolean } }>('/v1/containers', { schema: listContainersSchema }, async (request) => {
    // A list: an admin key lists the default tenant's unless it asks for ?tenant= or ?allTenants=true.
    return { containers: await containers.list(await tenancy.scopeOf(request), { all: request.query.all ?? false }) };
  });

  app.get<Id & { Querystring: { showEnv?: boolean } }>('/v1/containers/:id', { schema: getContainerSchema }, async (request) => {
    return containers.get(await tenant(request), request.params.id, { showEnv: request.query.showEnv ?? false });
  });

  app.post<Id & { Querystring: { timeoutSec?: number } }>('/v1/containers/:id/wait', { schema: waitSchema }, async (request) => {
    return containers.wait(await tenant(request), request.params.id, (request.query.timeoutSec ?? 3600) * 1000);
  });

  app.post<Id>('/v1/containers/:id/start', { schema: startSchema }, async (request) => {
    return containers.start(await tenant(request), request.params.id);
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

  // Every stream takes a slot (429 ERR_TOO_MANY_STREAMS past the limits) before its job goes to the host's stream queue.
  async function openStream(tenantId: string, hostId: string, start: (session: string) => Promise<unknown>): Promise<RelaySession> {
    const lease = await opts.streams.acquire(tenantId, hostId);
    return openRelay(opts.redis, start, lease);
  }

  app.get<Id & { Querystring: { follow?: boolean; tail?: number; format?: 'raw' | 'ndjson' } }>('/v1/containers/:id/logs', { schema: logsSchema }, async (request, reply) => {
    const row = await containers.row(await tenant(request), request.params.id);
    const { follow = false, tail, format = 'raw' } = request.query;
    // Followed while its VM is still being made (`forkd run` opens it right after the POST): hostd waits for the create.
    const afterCreate = follow && row.vm.state === 'creating';
    const relay = await openStream(row.tenantId, row.vm.hostId, (session) => opts.hostJobs.call(row.vm.hostId, 'container.logs', {
      vmId: row.vmId, containerId: row.id, session, follow, ...(tail === undefined ? {} : { tail }), ...(afterCreate ? { afterCreate } : {}),
    }, { timeoutMs: follow ? 7 * 24 * 3600_000 : 120_000 }));
    await streamToHttp(request, reply, relay, format);
  });

  app.post<Id & { Body: { command: string[]; env?: string[]; workingDir?: string; stdin?: string } }>('/v1/containers/:id/exec', { schema: execSchema }, async (request, reply) => {
    const row = await containers.running(await tenant(request), request.params.id);
    const { command, env, workingDir, stdin } = request.body;
    const relay = await openStream(row.tenantId, row.vm.hostId, (session) => opts.hostJobs.call(row.vm.hostId, 'container.exec', {
      vmId: row.vmId, containerId: row.id, session, command, stdin: stdin !== undefined,
      ...(env ? { env: containers.sealEnv(row.id, env) } : {}), ...(workingDir ? { workingDir } : {}),
    }, { timeoutMs: 24 * 3600_000 }));
    if (stdin !== undefined) {
      try {
        await relay.input.write('stdin', Buffer.from(stdin));
        await relay.input.write('stdin-end');
      } catch (err) {
        await relay.close();
        throw err;
      }
    }
    await streamToHttp(request, reply, relay, 'ndjson');
  });

  // Interactive exec: a WebSocket; the protocol is in exec-socket.ts. The query is
  // checked before the upgrade, so the old `?cmd=…&env=…` form gets an HTTP 400.
  app.get<Id>('/v1/containers/:id/exec', {
    schema: execWebSocketSchema,
    websocket: true,
    preValidation: async (request) => refuseQueryArguments(request.query),
  }, interactiveSocketHandler(parseStartMessage, async (request, start) =>
    interactive.openExec(await tenant(request), (request.params as { id: string }).id, start)));

  // Attach to the main process's stdio: the same socket protocol, its start message has the options.
  app.get<Id>('/v1/containers/:id/attach', {
    schema: attachWebSocketSchema,
    websocket: true,
  }, interactiveSocketHandler(parseAttachStart, async (request, start) =>
    interactive.openAttach(await tenant(request), (request.params as { id: string }).id, start)));

  app.post<Id & { Querystring: { h: number; w: number } }>('/v1/containers/:id/resize', { schema: resizeSchema }, async (request, reply) => {
    await interactive.resize(await tenant(request), request.params.id, { rows: request.query.h, cols: request.query.w });
    return reply.code(204).send();
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
