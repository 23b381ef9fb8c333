// Forking a running pod, and pods as templates (docs/pods.md "Forking a
// pod"). A pod is one VM with several containers, so both are the live fork
// of that VM (hostd's pod.fork / pod.snapshot, services/hostd/pods/): a child
// pod is a new VM copied from the running one, every container in it
// mid-flight. Here, the API's half, as ContainerForks does it for one
// container: check the request and make every child's rows in one
// transaction (quota, names, addresses: a refusal makes nothing), then the
// job in the background; a failed job removes every child's rows.
//
// A child pod's containers keep their names scoped to the new pod:
// `<container>.<pod>` (container names are unique per tenant, and the pod's
// address answers to them on the network, so the parent's names cannot be
// reused; a fork of a fork replaces the scope: `web.app2` → `web.app4`).
// Inside the guest nothing is renamed: hostnames stay the parent's. Docker
// settings (compose's project labels) are not copied: a fork is not one of
// the project's containers, and `docker-compose down` must not take it.
import { randomUUID } from 'node:crypto';
import { ForkdError } from '../../contracts/errors.js';
import type { PodForkChild } from '../../contracts/pod-jobs.js';
import { containerStateFromHost } from '../../contracts/lifecycle/index.js';
import type { Containers } from '../containers.js';
import type { PrismaClient } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import type { HostJobs } from '../host-jobs.js';
import { containerStates, templateStates, vmStates } from '../lifecycle/state-writes.js';
import { withAddressRetry, type NetworkAddresses } from '../networks/addresses.js';
import type { Operations } from '../operations/operations.js';
import { view as operationView, type OperationView } from '../operations/rules.js';
import { SNAPSHOT_NAME_PATTERN } from '../fork/container-snapshots.js';
import type { Templates } from '../templates.js';
import { forkQuota } from '../fork/fork-quota.js';
import { reserveVmQuota } from '../tenancy/quota.js';
import { randomMac } from '../vm-mac.js';
import { statusData } from './pod-containers.js';
import type { PodView, Pods } from './pods.js';

/** One request makes at most this many pods (hostd checks the same bound). */
export const MAX_POD_FORK_COUNT = 64;
const FORK_TIMEOUT_MS = 15 * 60_000;
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;
/** Container names are at most 63 characters (routes/containers.ts). */
const NAME_MAX = 63;

export interface PodForkBody {
  count?: number;
  /** The new pod's name; with count > 1 the pods are `<name>-1` … `<name>-N`. Default `<parent>-fork-<id>`. */
  name?: string;
}

/** One container as every child pod copies it: from the parent's row, or from a pod template's origin. */
interface ContainerShape {
  /** The parent's container id (a fork), or the guest's id (a template): what hostd maps the child's id to. */
  from: string;
  name: string;
  imageId: string;
  command: string[];
  env: string[];
  workdir: string | null;
  podLimits: { memoryMib: number; pids: number };
}

/** A pod template's origin (kind 'pod'): what a pod made from it copies. */
export interface PodTemplateOrigin {
  podId: string;
  name: string;
  pids: number;
  networkId: string | null;
  /** env sealed for podTemplateEnvSubject(templateId, i). */
  containers: Array<Omit<ContainerShape, 'env' | 'from'> & { env: unknown; guestId: string }>;
  takenAt: string;
}

/** A container's name without the pod scope a fork gave it (`web.app2` in pod app2 → `web`), so forks of forks do not pile up scopes. */
export function baseName(container: string, pod: string): string {
  const scope = `.${pod}`;
  return container.endsWith(scope) && container.length > scope.length ? container.slice(0, -scope.length) : container;
}

function envSubject(templateId: string, i: number): string {
  return `pod-template:${templateId}:${i}`;
}

interface PodShape {
  tenantId: string;
  hostId: string;
  vcpus: number;
  memoryMib: number;
  pids: number;
  /** The Vm rows' template: the parent VM's (its disk backs the fork point) or the pod template. */
  templateId: string | null;
  networkId: string | null;
  containers: ContainerShape[];
  stem: string;
}

type Made = { podId: string; vmId: string; name: string; containers: Array<{ id: string; name: string }> };

export class PodForks {
  constructor(
    private readonly db: PrismaClient,
    private readonly pods: Pods,
    private readonly containers: Containers,
    private readonly templates: Templates,
    private readonly addresses: NetworkAddresses,
    private readonly hostJobs: HostJobs,
    private readonly operations: Operations,
  ) {
    operations.onInterrupted('pod.snapshot', async (id) => {
      await db.template.updateMany({ where: { id, state: 'building' }, data: { state: 'failed', error: 'the API restarted during the snapshot; delete it and snapshot again' } });
    });
  }

  /** The running pod of the tenant with its containers and VM, or a 4xx naming why not. */
  private async runningPod(tenantId: string, ref: string, what: string) {
    const pod = await this.pods.row(tenantId, ref);
    const row = await this.db.pod.findUniqueOrThrow({ where: { id: pod.id }, include: { vm: true, containers: { orderBy: { createdAt: 'asc' } } } });
    if (row.state !== 'running' || !row.vm || row.vm.state !== 'running') throw new ForkdError('ERR_CONFLICT', `pod ${row.name} is ${row.state}: only a running pod can be ${what}`, { field: 'id' });
    const creating = row.containers.find((c) => c.state === 'creating' || c.state === 'removing');
    if (creating) throw new ForkdError('ERR_CONFLICT', `pod ${row.name}'s container ${creating.name} is ${creating.state}: wait for it`, { field: 'id' });
    return { ...row, vm: row.vm };
  }

  /** POST /v1/pods/:id/fork: `count` new pods, each a copy of the running pod with all its containers. */
  async fork(tenantId: string, ref: string, body: PodForkBody): Promise<OperationView> {
    const count = checkCount(body.count);
    const pod = await this.runningPod(tenantId, ref, 'forked');
    const shape: PodShape = {
      tenantId, hostId: pod.hostId, vcpus: pod.vcpus, memoryMib: pod.memoryMib, pids: pod.pids, templateId: pod.vm.templateId, networkId: pod.networkId, stem: pod.name,
      containers: pod.containers.map((c) => ({
        from: c.id, name: baseName(c.name, pod.name), imageId: c.imageId, command: c.command as string[], env: this.containers.storedEnv(c), workdir: c.workdir,
        podLimits: c.podLimits as ContainerShape['podLimits'],
      })),
    };
    return this.start(shape, count, body.name, { parent: { vmId: pod.vm.id } }, pod.id, 'pod.fork', (pods) => ({ pods }));
  }

  /** POST /v1/pods {name, template}: one pod from a pod template, its containers already running. */
  async fromTemplate(tenantId: string, templateId: string, name: string): Promise<OperationView> {
    const t = await this.db.template.findFirst({ where: { id: templateId, image: { tenantId } } });
    if (!t) throw new ForkdError('ERR_NOT_FOUND', `no template ${JSON.stringify(templateId)}`, { field: 'template' });
    if (t.kind !== 'pod') throw new ForkdError('ERR_CONFLICT', `template ${t.id} is not a pod template (forkd pod snapshot makes one)`, { field: 'template' });
    if (t.state !== 'ready') throw new ForkdError('ERR_CONFLICT', `template ${t.id} is ${t.state}, not ready`, { field: 'template' });
    const o = t.origin as unknown as PodTemplateOrigin;
    const network = o.networkId ? await this.db.network.findFirst({ where: { id: o.networkId, tenantId } }) : null;
    const shape: PodShape = {
      tenantId, hostId: t.hostId, vcpus: t.vcpus, memoryMib: t.memoryMib, pids: o.pids, templateId: t.id, networkId: network?.id ?? null, stem: t.id,
      containers: o.containers.map((c, i) => ({ ...c, from: c.guestId, env: this.containers.storedEnv({ id: envSubject(t.id, i), env: c.env }) })),
    };
    return this.start(shape, 1, name, { template: { templateId: t.id } }, t.id, 'pod.create', (pods) => pods[0]!);
  }

  /** POST /v1/pods/:id/snapshot: the running pod kept as a template (kind 'pod') that pods are created from. */
  async snapshot(tenantId: string, ref: string, name: string): Promise<OperationView> {
    if (!new RegExp(SNAPSHOT_NAME_PATTERN).test(name)) {
      throw new ForkdError('ERR_VALIDATION', 'name must be 1–48 of a-z 0-9 _ -, starting with a letter or digit, and not fp-', { field: 'name' });
    }
    const pod = await this.runningPod(tenantId, ref, 'snapshotted');
    // The template is owned through an image (tenancy/policy.ts): an empty pod would be nobody's.
    if (pod.containers.length === 0) throw new ForkdError('ERR_CONFLICT', `pod ${pod.name} has no containers: a pod template is its containers`, { field: 'id' });
    const base = pod.vm.templateId ? await this.db.template.findUnique({ where: { id: pod.vm.templateId } }) : null;
    if (!base) throw new ForkdError('ERR_CONFLICT', `pod ${pod.name}'s VM has no template to fork from`, { field: 'id' });
    const containers = pod.containers.map((c, i) => ({
      name: baseName(c.name, pod.name), imageId: c.imageId, command: c.command as string[], env: this.containers.sealEnv(envSubject(name, i), this.containers.storedEnv(c)) as unknown,
      workdir: c.workdir, podLimits: c.podLimits as ContainerShape['podLimits'], apiId: c.id,
    }));
    const operation = await this.db.$transaction(async (tx) => {
      try {
        await tx.template.create({
          data: {
            id: name, hostId: pod.hostId, imageId: pod.containers[0]!.imageId, vcpus: pod.vcpus, memoryMib: pod.memoryMib,
            accel: base.accel, qemuVersion: base.qemuVersion, machineType: base.machineType, kind: 'pod', buildSlot: name, parentTemplateId: base.id,
          },
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ForkdError('ERR_CONFLICT', `a template named ${JSON.stringify(name)} exists`, { field: 'name' });
        throw err;
      }
      return this.operations.start({ tenantId, hostId: pod.hostId, kind: 'pod.snapshot', targetId: name, step: 'queued' }, tx);
    });
    this.operations.run(operation, async (report) => {
      try {
        report({ step: `freezing pod ${pod.name}` });
        const out = await this.hostJobs.call(pod.hostId, 'pod.snapshot', { parent: { vmId: pod.vm.id }, templateId: name }, { timeoutMs: SNAPSHOT_TIMEOUT_MS, jobId: operation.id });
        const takenAt = new Date();
        const origin: PodTemplateOrigin = {
          podId: pod.id, name: pod.name, pids: pod.pids, networkId: pod.networkId, takenAt: takenAt.toISOString(),
          containers: containers.map(({ apiId, ...c }) => ({ ...c, guestId: out.guestIds[apiId] ?? apiId })),
        };
        await templateStates.write(this.db, name, 'ready', {
          readyAt: takenAt, accel: out.template.accel, qemuVersion: out.template.qemuVersion, machineType: out.template.machineType,
          checksums: out.template.files as object, error: null, origin: origin as object,
        });
        const row = await this.db.template.findUniqueOrThrow({ where: { id: name }, include: { image: true } });
        return { ...(await this.templates.view(row)), pauseMs: out.pauseMs };
      } catch (err) {
        await this.db.template.delete({ where: { id: name } }).catch(() => undefined); // best effort: the operation needs the job's error
        throw err;
      }
    });
    return operationView(operation);
  }

  private async start<R>(shape: PodShape, count: number, name: string | undefined, source: { parent: { vmId: string } } | { template: { templateId: string } }, targetId: string, kind: string, result: (pods: PodView[]) => R): Promise<OperationView> {
    const { db } = this;
    const { tenantId, hostId } = shape;
    const made: Made[] = Array.from({ length: count }, (_, i) => {
      const podId = randomUUID();
      const base = name ?? `${shape.stem}-fork-${podId.slice(0, 8)}`;
      const podName = name && count > 1 ? `${base}-${i + 1}` : base;
      return { podId, vmId: randomUUID(), name: podName, containers: shape.containers.map((c) => ({ id: randomUUID(), name: `${c.name}.${podName}` })) };
    });
    const names = made.flatMap((m) => m.containers.map((c) => c.name));
    const long = names.find((n) => n.length > NAME_MAX);
    if (long) throw new ForkdError('ERR_VALIDATION', `the child's container name ${long} would be longer than ${NAME_MAX}: choose a shorter pod name`, { field: 'name' });
    const taken = await db.container.findMany({ where: { tenantId, name: { in: names } }, select: { name: true } });
    if (taken.length > 0) throw new ForkdError('ERR_CONFLICT', `a container named ${JSON.stringify(taken[0]!.name)} exists`, { field: 'name' });
    const network = shape.networkId ? await db.network.findUnique({ where: { id: shape.networkId } }) : null;

    // Over quota is 403 ERR_FORK_QUOTA, as for a container's fork (fork/fork-quota.ts).
    const { operation, children } = await forkQuota(count, () => withAddressRetry(() => db.$transaction(async (tx) => {
      const children: PodForkChild[] = [];
      for (const m of made) {
        // Per pod, before its rows: N pods over quota make none.
        await reserveVmQuota(tx, tenantId, shape.memoryMib);
        await tx.vm.create({ data: { id: m.vmId, tenantId, hostId, templateId: shape.templateId, domainName: `forkd-vm-${m.vmId}`, vcpus: shape.vcpus, memoryMib: shape.memoryMib, mac: randomMac(), bootMode: 'fork' } });
        await tx.pod.create({ data: { id: m.podId, tenantId, name: m.name, vcpus: shape.vcpus, memoryMib: shape.memoryMib, pids: shape.pids, hostId, networkId: shape.networkId, vmId: m.vmId, state: 'creating' } });
        for (const [i, c] of m.containers.entries()) {
          const s = shape.containers[i]!;
          await tx.container.create({
            data: {
              id: c.id, tenantId, vmId: m.vmId, podId: m.podId, podLimits: s.podLimits, imageId: s.imageId, name: c.name, command: s.command,
              env: this.containers.sealEnv(c.id, s.env), workdir: s.workdir,
            },
          });
        }
        const address = network ? await this.addresses.allocate(tx, network, m.vmId, hostId) : null;
        children.push({
          vmId: m.vmId, containers: m.containers.map((c, i) => ({ from: shape.containers[i]!.from, containerId: c.id, name: c.name })),
          ...(network && address ? { network: this.addresses.attachment(network, address, m.containers.map((c) => c.name)) } : {}),
        });
      }
      const operation = await this.operations.start({ tenantId, hostId, kind, targetId, step: 'queued' }, tx);
      return { operation, children };
    }))).catch((err: unknown) => {
      if (isUniqueViolation(err)) throw new ForkdError('ERR_CONFLICT', `a pod or container of that name exists`, { field: 'name' });
      throw err;
    });

    this.operations.run(operation, async (report) => {
      try {
        report({ step: `forking on ${hostId}` });
        const out = await this.hostJobs.call(hostId, 'pod.fork', { tenantId, ...source, children }, {
          timeoutMs: FORK_TIMEOUT_MS, jobId: operation.id, onProgress: (p) => report({ percent: p.percent, ...(p.step ? { step: p.step } : {}) }),
        });
        const now = new Date();
        await db.$transaction(async (tx) => {
          for (const c of out.children) {
            await vmStates.write(tx, c.vmId, 'running', { startedAt: now, bootMode: 'fork' });
            await tx.pod.update({ where: { vmId: c.vmId }, data: { state: 'running' } });
            for (const k of c.containers) await containerStates.write(tx, k.containerId, containerStateFromHost(k.status.state), statusData(k.status));
          }
        });
        const views: PodView[] = [];
        for (const m of made) views.push(await this.pods.get(tenantId, m.podId));
        return result(views);
      } catch (err) {
        await this.removeRows(made).catch(() => undefined); // best effort: hostd destroyed its VMs; the operation needs the job's error
        throw err;
      }
    });
    return operationView(operation);
  }

  private async removeRows(made: Made[]): Promise<void> {
    const vmIds = made.map((m) => m.vmId);
    await this.db.$transaction([
      this.db.networkAddress.deleteMany({ where: { vmId: { in: vmIds } } }),
      this.db.container.deleteMany({ where: { podId: { in: made.map((m) => m.podId) } } }),
      this.db.pod.deleteMany({ where: { id: { in: made.map((m) => m.podId) } } }),
      this.db.vm.deleteMany({ where: { id: { in: vmIds } } }),
    ]);
  }
}

function checkCount(count: number | undefined): number {
  const n = count ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_POD_FORK_COUNT) throw new ForkdError('ERR_VALIDATION', `count must be a whole number 1..${MAX_POD_FORK_COUNT}`, { field: 'count' });
  return n;
}
