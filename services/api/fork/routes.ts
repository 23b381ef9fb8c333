// POST /v1/containers/:id/fork and /snapshot: schemas first, then ContainerForks
// and ContainerSnapshots (the rules). Both answer 202 with an operation, like a
// container create (docs/operations.md); the operation's result is the new
// containers, or the new template.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { operationEnvelopeSchema, sendAccepted } from '../operations/routes.js';
import { tenantQueryProperties } from '../tenancy/scope.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import { MAX_FORK_COUNT, type ContainerForks, type ForkBody } from './container-forks.js';
import { snapshotBodySchema, type ContainerSnapshots } from './container-snapshots.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;
const tenantOnly = { type: 'object', additionalProperties: false, properties: { tenant: tenantQueryProperties.tenant } } as const;

export const forkContainerSchema = {
  summary: 'Fork a running container into new containers, each in its own VM, memory and processes included',
  params: idParams,
  querystring: tenantOnly,
  body: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      count: { type: 'integer', minimum: 1, maximum: MAX_FORK_COUNT },
      name: { type: 'string', minLength: 1, maxLength: 120, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' },
      /** Capture the parent now, even when its last capture could be reused (docs/fork.md). */
      fresh: { type: 'boolean' },
    },
  },
  response: { 202: operationEnvelopeSchema },
} as const;

export const forkSnapshotSchema = {
  ...forkContainerSchema,
  summary: 'New containers from a snapshot template: its container, continuing from the moment it was taken',
  querystring: { type: 'object', additionalProperties: false, properties: {} },
} as const;

export const snapshotContainerSchema = {
  summary: 'Freeze a running container (memory, processes, disk) into a template that containers and VMs fork from later',
  params: idParams,
  querystring: tenantOnly,
  body: snapshotBodySchema,
  response: { 202: operationEnvelopeSchema },
} as const;

type Id = { Params: { id: string } };

export async function forkRoutes(app: FastifyInstance, opts: { forks: ContainerForks; snapshots: ContainerSnapshots; tenancy: Tenancy }): Promise<void> {
  const scope = (r: FastifyRequest) => opts.tenancy.scopeOf(r, { byId: true });

  app.post<Id & { Body: ForkBody | null }>('/v1/containers/:id/fork', { schema: forkContainerSchema }, async (request, reply) => {
    return sendAccepted(reply, await opts.forks.fork(await scope(request), request.params.id, request.body ?? {}));
  });

  app.post<Id & { Body: ForkBody | null }>('/v1/templates/:id/fork', { schema: forkSnapshotSchema }, async (request, reply) => {
    return sendAccepted(reply, await opts.forks.fromSnapshot((await opts.tenancy.actorOf(request)).tenantId, request.params.id, request.body ?? {}));
  });

  app.post<Id & { Body: { name: string } }>('/v1/containers/:id/snapshot', { schema: snapshotContainerSchema }, async (request, reply) => {
    return sendAccepted(reply, await opts.snapshots.snapshot(await scope(request), request.params.id, request.body.name));
  });
}
