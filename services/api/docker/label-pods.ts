// The pods the Docker API makes and removes for the io.forkd.pod label
// (docs/pods.md "Compose"). A label naming a pod that does not exist makes it
// (the first container of a compose project): sized from FORKD_DOCKER_POD_*,
// on the create's network, marked `byDocker`. When the Docker API removes the
// last container of such a pod (`docker-compose down`, `docker rm`, --rm), the
// pod goes too. A pod the user made (`forkd pod create`, POST /v1/pods) is
// never removed here: it stays, empty, as the API's own removal leaves it.
import { ForkdError } from '../../contracts/errors.js';
import type { OperationView } from '../operations/rules.js';
import type { Actor } from '../tenancy/policy.js';
import type { DockerContext } from './context.js';

/** How long a Docker create waits for the pod its label names (a bare template built on first use included). */
const POD_WAIT_MS = 30 * 60_000;

/** Pods being removed by this process, so two removes of their last containers remove the pod once. */
const removing = new Set<string>();

/**
 * Returns once the pod named `ref` runs, making it first when the tenant has
 * none of that name or id. Two creates at once make it once: the one that
 * loses the name waits for the other's pod.
 */
export async function ensureLabelPod(ctx: DockerContext, actor: Actor, ref: string, network: string | undefined): Promise<void> {
  const { pods, config } = ctx.services;
  const deadline = Date.now() + POD_WAIT_MS;
  for (;;) {
    const row = await pods.row(actor.tenantId, ref, 'pod').catch((err: unknown) => {
      if (err instanceof ForkdError && err.code === 'ERR_NOT_FOUND') return null;
      throw err;
    });
    if (row?.state === 'running') return;
    if (row?.state === 'failed') throw new ForkdError('ERR_CONFLICT', `pod ${row.name} (label io.forkd.pod) failed; remove it (forkd pod rm) and try again`, { field: 'pod' });
    if (!row) {
      const body = { name: ref, memoryMib: config.dockerPod.memoryMib, vcpus: config.dockerPod.vcpus, ...(network ? { network } : {}) };
      const op = await pods.create(actor, body, { byDocker: true }).catch((err: unknown) => {
        if (err instanceof ForkdError && err.code === 'ERR_CONFLICT' && err.field === 'name') return null; // another create made it: wait for it
        if (err instanceof ForkdError && err.code === 'ERR_VALIDATION' && err.field === 'name') {
          throw new ForkdError('ERR_VALIDATION', `label io.forkd.pod: ${err.message}`, { field: 'pod' });
        }
        throw err;
      });
      if (op) {
        const done = await settle(ctx, actor.tenantId, op, deadline);
        if (done.state === 'failed') {
          throw new ForkdError((done.error?.code ?? 'ERR_INTERNAL') as 'ERR_INTERNAL', `making pod ${ref} for label io.forkd.pod failed: ${done.error?.message ?? 'unknown error'}`);
        }
        if (done.state === 'succeeded') return;
      }
    }
    if (Date.now() > deadline) throw new ForkdError('ERR_TIMEOUT', `pod ${ref} (label io.forkd.pod) is still being created`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function settle(ctx: DockerContext, tenantId: string, op: OperationView, deadline: number): Promise<OperationView> {
  let done = op;
  while (done.state !== 'succeeded' && done.state !== 'failed' && Date.now() < deadline) {
    done = await ctx.services.operations.get(tenantId, op.id, 60_000, done.updatedAt);
  }
  return done;
}

/**
 * Removes a container as the Docker API does (forced: the caller checked),
 * then its pod if the Docker API made that pod and this was its last
 * container. The pod's removal is best effort: the container is gone either
 * way, and a pod left behind is removed with `forkd pod rm`.
 */
export async function removeDockerContainer(ctx: DockerContext, tenantId: string, id: string, warn: (msg: string, fields: object) => void): Promise<void> {
  const { db, containers, pods } = ctx.services;
  const podId = (await db.container.findUnique({ where: { id }, select: { podId: true } }))?.podId ?? null;
  await containers.remove(tenantId, id, true);
  if (podId === null || removing.has(podId)) return;
  const pod = await db.pod.findFirst({ where: { id: podId, tenantId }, select: { byDocker: true, state: true, _count: { select: { containers: true } } } });
  if (!pod?.byDocker || pod.state !== 'running' || pod._count.containers > 0) return;
  removing.add(podId);
  try {
    // Not forced: a container that a create put in the pod meanwhile and that runs keeps it.
    await pods.remove(tenantId, podId, false);
  } catch (err) {
    if (!(err instanceof ForkdError && err.code === 'ERR_NOT_FOUND')) warn('could not remove the pod the Docker API made, now empty (forkd pod rm)', { pod: podId, err: String(err) });
  } finally {
    removing.delete(podId);
  }
}
