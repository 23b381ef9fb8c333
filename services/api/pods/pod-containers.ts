// A container in a pod (`pod` in POST /v1/containers, `forkd run --pod`): no
// VM of its own and no quota of its own (the pod's VM already counts); it
// must fit what the pod's live containers leave of its memory and pids,
// decided here from the rows inside a transaction that writes the pod's row
// first, so two creates in one pod cannot both take the last MiB. Every pod
// container is limited (defaults in rules.ts), so the sums are exact. Reads,
// exec, logs, stop and the rest go through Containers as for any container:
// they address the VM and the container id alike.
import { randomUUID } from 'node:crypto';
import { ForkdError } from '../../contracts/errors.js';
import type { EventPublisher } from '../../contracts/events/index.js';
import type { ContainerStatus } from '../../contracts/jobs.js';
import { containerStateFromHost } from '../../contracts/lifecycle/index.js';
import type { Containers, CreateContainerBody } from '../containers.js';
import { mergeEnv } from '../containers.js';
import type { PrismaClient } from '../db/client.js';
import type { HostJobs } from '../host-jobs.js';
import type { Images } from '../images.js';
import { containerStates } from '../lifecycle/state-writes.js';
import type { Networks } from '../networks/networks.js';
import type { Operations } from '../operations/operations.js';
import { view as operationView, type OperationView } from '../operations/rules.js';
import { holdsBudget, limitsOf, type Pods } from './pods.js';
import { assertFitsPod, podContainerLimits } from './rules.js';

/** A create in a pod waits for an image import at most; no VM is made. */
const CREATE_TIMEOUT_MS = 300_000;

/** What a pod's containers cannot have (yet), each refused naming its field. */
function refuseUnsupported(body: CreateContainerBody): void {
  const no = (field: string, why: string) => new ForkdError('ERR_VALIDATION', `${field}: ${why}`, { field });
  if (body.vm) throw no('vm', 'a pod\'s containers share its VM: size the pod (forkd pod create --memory/--vcpus) instead');
  if (body.boot) throw no('boot', 'a pod\'s containers run in its VM, already booted');
  if (body.ports?.length) throw no('ports', 'publishing ports of a pod\'s container is not supported yet; reach it from the pod\'s network');
  if (body.volumes?.length) throw no('volumes', 'volumes in pods are not supported yet');
  if (body.aliases?.length) throw no('aliases', 'a pod\'s address answers to its containers\' names; aliases are not supported in pods yet');
}

export class PodContainers {
  /** Each pod's last removal (remove chains on it). */
  private readonly removing = new Map<string, Promise<void>>();

  constructor(
    private readonly db: PrismaClient,
    private readonly pods: Pods,
    private readonly containers: Containers,
    private readonly images: Images,
    private readonly networks: Networks,
    private readonly hostJobs: HostJobs,
    private readonly operations: Operations,
    private readonly events: EventPublisher,
  ) {}

  async create(tenantId: string, body: CreateContainerBody & { pod: string }, extra: { docker?: object } = {}): Promise<OperationView> {
    const pod = await this.pods.row(tenantId, body.pod, 'pod');
    if (pod.state !== 'running' || !pod.vmId) throw new ForkdError('ERR_CONFLICT', `pod ${pod.name} is ${pod.state}`, { field: 'pod' });
    const vmId = pod.vmId;
    refuseUnsupported(body);
    if (body.network !== undefined) {
      const network = await this.networks.resolve(tenantId, body.network);
      if (network.id !== pod.networkId) throw new ForkdError('ERR_CONFLICT', `a pod's containers are on its network; pod ${pod.name} is not on ${network.name}`, { field: 'network' });
    }
    const image = await this.images.resolve(tenantId, body.image);
    const config = (image.config ?? {}) as { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string; User?: string };
    const entrypoint = body.entrypoint ?? config.Entrypoint ?? [];
    const command = [...entrypoint, ...(body.command ?? (body.entrypoint ? [] : config.Cmd ?? []))];
    if (command.length === 0) throw new ForkdError('ERR_VALIDATION', 'command is required: the image has no Entrypoint or Cmd', { field: 'command' });
    if (body.consoleSize && !body.tty) throw new ForkdError('ERR_VALIDATION', 'consoleSize needs tty: true', { field: 'consoleSize' });
    const limits = podContainerLimits(body);
    const containerId = randomUUID();
    const name = body.name ?? `c-${containerId.slice(0, 8)}`;
    const sealedEnv = this.containers.sealEnv(containerId, mergeEnv(config.Env ?? [], body.env ?? []));
    const workingDir = body.workingDir ?? config.WorkingDir;
    const user = body.user ?? config.User;

    const operation = await this.db.$transaction(async (tx) => {
      // Writing the pod's row first makes this the pod's one writer until commit (as reserveVmQuota does for a tenant).
      await tx.pod.update({ where: { id: pod.id }, data: { updatedAt: new Date() } });
      if (await tx.container.findUnique({ where: { tenantId_name: { tenantId, name } } })) {
        throw new ForkdError('ERR_CONFLICT', `a container named ${JSON.stringify(name)} exists`, { field: 'name' });
      }
      const others = await tx.container.findMany({ where: { podId: pod.id }, select: { state: true, podLimits: true } });
      assertFitsPod(pod, others.filter((o) => holdsBudget(o.state)).map(limitsOf), limits);
      await tx.container.create({
        data: {
          id: containerId, tenantId, vmId, podId: pod.id, podLimits: limits, imageId: image.id, name, command, env: sealedEnv,
          workdir: workingDir ?? null, ...(extra.docker ? { docker: extra.docker } : {}),
        },
      });
      return this.operations.start({ tenantId, hostId: pod.hostId, kind: 'container.create', targetId: containerId, step: 'queued' }, tx);
    });

    this.operations.run(operation, async (report) => {
      try {
        const out = await this.hostJobs.call(pod.hostId, 'pod.container.create', {
          tenantId, vmId, containerId, name, image: await this.images.forJob(image), names: await this.names(pod.id),
          spec: {
            command, env: sealedEnv,
            ...(workingDir ? { workingDir } : {}),
            ...(user ? { user } : {}),
            limits: { ...limits, ...(body.cpus ? { cpus: body.cpus } : {}) },
            ...(body.tty ? { tty: true, ...(body.consoleSize ? { rows: body.consoleSize.rows, cols: body.consoleSize.cols } : {}) } : {}),
            ...(body.openStdin ? { openStdin: true } : {}),
          },
          ...(body.start === false ? { start: false } : {}),
        }, { timeoutMs: CREATE_TIMEOUT_MS, jobId: operation.id, onProgress: (p) => report({ percent: p.percent, ...(p.step ? { step: p.step } : {}) }) });
        await containerStates.write(this.db, containerId, containerStateFromHost(out.status.state), statusData(out.status));
        return this.containers.view(await this.containers.row(tenantId, containerId));
      } catch (err) {
        await this.db.container.delete({ where: { id: containerId } }).catch(() => {}); // only this container's row: the pod stays
        throw err;
      }
    });
    return operationView(operation);
  }

  /**
   * Takes a container out of its pod: the agent deletes it (killed if it
   * runs; the caller checked `force`), the pod's address stops answering to
   * its name, and the pod and its VM stay, also when it was the last one.
   */
  async remove(row: { id: string; tenantId: string; name: string; vmId: string; podId: string | null; vm: { hostId: string }; image: { digest: string } }): Promise<void> {
    // One removal per pod at a time (in this API process): each reads the names the pod keeps after the previous
    // one's row is gone, so two removed together (compose down) do not each send a list naming the other.
    const podId = row.podId!;
    const prev = this.removing.get(podId) ?? Promise.resolve();
    const mine = prev.catch(() => undefined).then(() => this.removeNow(row));
    this.removing.set(podId, mine);
    try {
      await mine;
    } finally {
      if (this.removing.get(podId) === mine) this.removing.delete(podId);
    }
  }

  private async removeNow(row: Parameters<PodContainers['remove']>[0]): Promise<void> {
    const names = await this.names(row.podId!, row.id);
    await this.hostJobs.call(row.vm.hostId, 'pod.container.remove', { vmId: row.vmId, containerId: row.id, names });
    await this.db.$transaction([
      this.db.container.delete({ where: { id: row.id } }),
      this.db.operation.create({ data: { tenantId: row.tenantId, hostId: row.vm.hostId, kind: 'container.remove', targetId: row.id, state: 'succeeded', finishedAt: new Date() } }),
    ]);
    await this.events.publish({ type: 'container', action: 'destroy', tenantId: row.tenantId, actor: { id: row.id, name: row.name, attributes: { image: row.image.digest, vmId: row.vmId, pod: row.podId! } } });
  }

  /** The names the pod's address answers to: its containers' names and their Docker aliases (compose's service names), oldest first. */
  private async names(podId: string, without?: string): Promise<string[]> {
    const rows = await this.db.container.findMany({ where: { podId, ...(without ? { id: { not: without } } : {}) }, select: { name: true, docker: true }, orderBy: { createdAt: 'asc' } });
    return [...new Set(rows.flatMap((r) => [r.name, ...((r.docker as { aliases?: string[] } | null)?.aliases ?? [])]))];
  }
}

export function statusData(s: ContainerStatus) {
  return {
    exitCode: s.exitCode,
    oomKilled: s.oomKilled,
    startedAt: s.startedAt ? new Date(s.startedAt) : null,
    finishedAt: s.finishedAt ? new Date(s.finishedAt) : null,
  };
}
