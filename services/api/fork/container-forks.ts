// Forking a running container (docs/fork.md "Forking a running container"):
// the API's half. It checks the request (owner, state, count, names, quota)
// and makes every child's rows in one transaction (a quota or name refusal
// makes nothing), then hostd's container.fork makes the VMs in the
// background, as a create does: 202 with an operation whose result lists the
// children. A failed fork removes every child's rows; hostd removed its VMs.
//
// A child is a new Vm and Container row: the parent's image, command and env
// (sealed again for the child's id), the parent's port *definitions* (hostd
// publishes them on new host ports), a new address on the parent's network,
// and the parent's template as its Vm's template: the child's disk is backed
// by it through the fork point, so it must not be deleted while children run.
import { randomUUID } from 'node:crypto';
import { ForkdError } from '../../contracts/errors.js';
import type { ContainerForkInput, ContainerForkOutput, ForkChild, PortRequest, PublishedPort } from '../../contracts/jobs.js';
import type { Containers, ContainerView } from '../containers.js';
import type { PrismaClient } from '../db/client.js';
import type { HostJobs } from '../host-jobs.js';
import type { Placement } from '../placement.js';
import { containerStates, vmStates } from '../lifecycle/state-writes.js';
import { withAddressRetry, type NetworkAddresses } from '../networks/addresses.js';
import type { NetworkRow } from '../networks/networks.js';
import type { Operations } from '../operations/operations.js';
import { view as operationView, type OperationView } from '../operations/rules.js';
import { reserveVmQuota } from '../tenancy/quota.js';
import { forkQuota } from './fork-quota.js';
import type { Owner } from '../tenancy/scope.js';
import { randomMac } from '../vm-mac.js';

/** One request makes at most this many children (hostd checks the same bound). */
export const MAX_FORK_COUNT = 64;
/** Capturing the fork point and starting 64 children under TCG takes minutes. */
const FORK_TIMEOUT_MS = 15 * 60_000;

export interface ForkBody {
  count?: number;
  /** The child's name; with count > 1 the children are `<name>-1` … `<name>-N`. Default `<parent>-fork-<id>`. */
  name?: string;
  /** Capture the parent now even when its last capture (seconds old, guest quiet) could be reused. */
  fresh?: boolean;
}

export interface ForkResult {
  containers: ContainerView[];
  /** How long the parent was paused and what capturing it cost (ms). */
  forkPoint: ContainerForkOutput['forkPoint'];
}

export interface ContainerForksDeps {
  db: PrismaClient;
  containers: Containers;
  addresses: NetworkAddresses;
  hostJobs: HostJobs;
  operations: Operations;
  /** Checks the fork's host (its parent's or snapshot's) is up and has room: forks cannot cross hosts. */
  placement?: Pick<Placement, 'forkHost'>;
}

type Made = { vmId: string; containerId: string; name: string };

/** What every child of one request copies: from the parent's row, or from a snapshot's origin. */
interface ChildShape {
  tenantId: string;
  hostId: string;
  vm: { vcpus: number; memoryMib: number; templateId: string | null };
  imageId: string;
  command: string[];
  env: string[];
  workdir: string | null;
  ports: PortRequest[];
  network: NetworkRow | null;
  /** The default name stem: `<stem>-fork-<id>`. */
  stem: string;
}

/** A snapshot template's origin (written by ContainerSnapshots). */
export interface SnapshotOrigin {
  containerId: string;
  name: string;
  imageId: string;
  command: string[];
  /** Sealed for subject snapshotEnvSubject(templateId). */
  env: string;
  workdir: string | null;
  ports: PortRequest[];
  networkId: string | null;
  guestContainerId: string;
  takenAt: string;
}

export function snapshotEnvSubject(templateId: string): string {
  return `snapshot:${templateId}`;
}

export class ContainerForks {
  constructor(private readonly deps: ContainerForksDeps) {}

  /** Forks a running container: checks and reserves now (4xx at once); the VMs are made in the background. */
  async fork(owner: Owner, idOrName: string, body: ForkBody): Promise<OperationView> {
    const count = checkCount(body.count);
    const { containers } = this.deps;
    const parent = await containers.row(owner, idOrName);
    if (parent.state !== 'running' || parent.vm.state !== 'running') {
      throw new ForkdError('ERR_CONFLICT', `container ${parent.name} is ${parent.state}: only a running container can be forked`, { field: 'container' });
    }
    if (Array.isArray(parent.volumes) && parent.volumes.length > 0) {
      throw new ForkdError('ERR_CONFLICT', `container ${parent.name} has volumes: a volume has one writer, so it cannot be forked`, { field: 'container' });
    }
    const shape: ChildShape = {
      tenantId: parent.tenantId,
      hostId: parent.vm.hostId,
      vm: { vcpus: parent.vm.vcpus, memoryMib: parent.vm.memoryMib, templateId: parent.vm.templateId },
      imageId: parent.imageId,
      command: parent.command as string[],
      env: containers.storedEnv(parent),
      workdir: parent.workdir,
      ports: ((parent.ports as PublishedPort[] | null) ?? []).map((p) => ({ containerPort: p.containerPort, hostIp: p.hostAddress, hostPort: 0 })),
      network: parent.vm.networkAddress?.network ?? null,
      stem: parent.name,
    };
    return this.start(shape, count, body.name, { parent: { vmId: parent.vmId, containerId: parent.id }, ...(body.fresh === true ? { fresh: true } : {}) }, parent.id);
  }

  /** Containers forked from a snapshot template: the snapshot's container, continuing from the moment it was taken. */
  async fromSnapshot(tenantId: string, templateId: string, body: ForkBody): Promise<OperationView> {
    const count = checkCount(body.count);
    // A snapshot belongs to its container's tenant (through the image); others' do not exist for this one.
    const t = await this.deps.db.template.findFirst({ where: { id: templateId, image: { tenantId } } });
    if (!t) throw new ForkdError('ERR_NOT_FOUND', `no snapshot ${JSON.stringify(templateId)}`, { field: 'template' });
    if (t.kind !== 'snapshot') throw new ForkdError('ERR_CONFLICT', `template ${t.id} is not a snapshot: it has no container to continue (forkd run IMAGE forks it)`, { field: 'template' });
    if (t.state !== 'ready') throw new ForkdError('ERR_CONFLICT', `snapshot ${t.id} is ${t.state}, not ready`, { field: 'template' });
    const o = t.origin as unknown as SnapshotOrigin;
    const network = o.networkId ? await this.deps.db.network.findFirst({ where: { id: o.networkId, tenantId } }) : null;
    const shape: ChildShape = {
      tenantId,
      hostId: t.hostId,
      vm: { vcpus: t.vcpus, memoryMib: t.memoryMib, templateId: t.id },
      imageId: o.imageId,
      command: o.command,
      env: this.deps.containers.storedEnv({ id: snapshotEnvSubject(t.id), env: o.env }),
      workdir: o.workdir,
      ports: o.ports,
      network,
      stem: t.id,
    };
    return this.start(shape, count, body.name, { template: { templateId: t.id, guestContainerId: o.guestContainerId } }, t.id);
  }

  /** The rows of every child in one transaction (quota, names, addresses), then hostd's container.fork in the background. */
  private async start(shape: ChildShape, count: number, name: string | undefined, sourceOf: Pick<ContainerForkInput, 'parent' | 'template' | 'fresh'>, targetId: string): Promise<OperationView> {
    const { db, containers, addresses } = this.deps;
    const { tenantId, hostId, network } = shape;
    const what = sourceOf.parent ? `container ${shape.stem}` : `snapshot ${targetId}`;
    await this.deps.placement?.forkHost(hostId, what, sourceOf.parent ? 'container' : 'template', { memoryMib: shape.vm.memoryMib * count });
    const children: Made[] = Array.from({ length: count }, (_, i) => {
      const containerId = randomUUID();
      const base = name ?? `${shape.stem}-fork-${containerId.slice(0, 8)}`;
      return { vmId: randomUUID(), containerId, name: name && count > 1 ? `${base}-${i + 1}` : base };
    });
    const taken = await db.container.findMany({ where: { tenantId, name: { in: children.map((c) => c.name) } }, select: { name: true } });
    if (taken.length > 0) throw new ForkdError('ERR_CONFLICT', `a container named ${JSON.stringify(taken[0]!.name)} exists`, { field: 'name' });

    const { operation, attachments } = await forkQuota(count, () => withAddressRetry(() => db.$transaction(async (tx) => {
      const attachments: Array<ForkChild['network']> = [];
      for (const c of children) {
        // Per child, before its row: the count includes the children already inserted, so N children over quota make none.
        await reserveVmQuota(tx, tenantId, shape.vm.memoryMib);
        await tx.vm.create({ data: { id: c.vmId, tenantId, hostId, templateId: shape.vm.templateId, domainName: `forkd-vm-${c.vmId}`, vcpus: shape.vm.vcpus, memoryMib: shape.vm.memoryMib, mac: randomMac(), bootMode: 'fork' } });
        await tx.container.create({
          data: { id: c.containerId, tenantId, vmId: c.vmId, imageId: shape.imageId, name: c.name, command: shape.command, env: containers.sealEnv(c.containerId, shape.env), workdir: shape.workdir },
        });
        attachments.push(network ? addresses.attachment(network, await addresses.allocate(tx, network, c.vmId, hostId), [c.name]) : undefined);
      }
      const operation = await this.deps.operations.start({ tenantId, hostId, kind: 'container.fork', targetId, step: 'queued' }, tx);
      return { operation, attachments };
    })));

    this.deps.operations.run(operation, async (report) => {
      try {
        report({ step: `forking on ${hostId}` });
        const out = await this.deps.hostJobs.call(hostId, 'container.fork', {
          tenantId,
          ...sourceOf,
          children: children.map((c, i) => ({ vmId: c.vmId, containerId: c.containerId, name: c.name, ...(attachments[i] ? { network: attachments[i] } : {}) })),
          ports: shape.ports,
        }, { timeoutMs: FORK_TIMEOUT_MS, jobId: operation.id, onProgress: (p) => report({ percent: p.percent, ...(p.step ? { step: p.step } : {}) }) });
        const now = new Date();
        await db.$transaction(async (tx) => {
          for (const c of out.children) {
            await vmStates.write(tx, c.vmId, 'running', { startedAt: now, bootMode: 'fork' });
            await containerStates.write(tx, c.containerId, 'running', { startedAt: now, ports: c.ports as object[] });
          }
        });
        const views: ContainerView[] = [];
        for (const c of out.children) views.push(containers.view(await containers.row(tenantId, c.containerId), c.vm.timings));
        const result: ForkResult = { containers: views, forkPoint: out.forkPoint };
        return result;
      } catch (err) {
        // hostd destroyed whatever it made; the rows go too.
        await this.removeRows(children).catch(() => undefined); // best effort: the operation needs the job's error
        throw err;
      }
    });
    return operationView(operation);
  }

  private async removeRows(children: Made[]): Promise<void> {
    const vmIds = children.map((c) => c.vmId);
    await this.deps.db.$transaction([
      this.deps.db.networkAddress.deleteMany({ where: { vmId: { in: vmIds } } }),
      this.deps.db.container.deleteMany({ where: { id: { in: children.map((c) => c.containerId) } } }),
      this.deps.db.vm.deleteMany({ where: { id: { in: vmIds } } }),
    ]);
  }
}

function checkCount(count: number | undefined): number {
  const n = count ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_FORK_COUNT) {
    throw new ForkdError('ERR_VALIDATION', `count must be a whole number 1..${MAX_FORK_COUNT}`, { field: 'count' });
  }
  return n;
}
