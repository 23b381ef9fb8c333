// Pods (docs/pods.md): one VM of one tenant holding several of its containers.
// A pod is made like any VM, by forking the bare template of its size (built
// on first use), and counts against the quota once, with its memory as sized.
// Its containers are made and removed by PodContainers (pod-containers.ts);
// here: the pod itself (create, list, inspect, remove).
import { ForkdError } from '../../contracts/errors.js';
import { CONTAINER_ACTIVE_STATES } from '../../contracts/lifecycle/index.js';
import type { PrismaClient } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import type { EventPublisher } from '../../contracts/events/index.js';
import type { HostJobs } from '../host-jobs.js';
import type { NetworkAddresses } from '../networks/addresses.js';
import type { Networks } from '../networks/networks.js';
import type { Operations } from '../operations/operations.js';
import { view as operationView, type OperationView } from '../operations/rules.js';
import type { Templates } from '../templates.js';
import type { Actor } from '../tenancy/policy.js';
import { precheckVmQuota } from '../tenancy/quota.js';
import type { Vms } from '../vms.js';
import type { PodForks } from './pod-forks.js';
import { assertSameSize, POD_RESERVED_MIB, podSize, type PodState } from './rules.js';

export interface CreatePodBody {
  name: string;
  vcpus?: number;
  memoryMib?: number;
  pids?: number;
  /** A network's name or id; `default` when absent. */
  network?: string;
  /** A pod template (POST /v1/pods/:id/snapshot): the pod starts as it was, its containers running; its size and network are the template's. */
  template?: string;
}

export interface PodContainerView { id: string; name: string; state: string; memoryMib: number; pids: number }

export interface PodView {
  id: string;
  tenantId: string;
  name: string;
  state: PodState;
  vcpus: number;
  memoryMib: number;
  pids: number;
  hostId: string;
  network: { id: string; name: string; address: string | null } | null;
  vm: { id: string; domainName: string; state: string } | null;
  containers: PodContainerView[];
  /** What one more container may still take (memory: the pod's, less what the guest keeps and the live containers hold). */
  free: { memoryMib: number; pids: number };
  /** Made by a Docker create whose io.forkd.pod label named no pod; the Docker API removes it with its last container. */
  byDocker: boolean;
  createdAt: string;
}

const ROW_INCLUDE = {
  network: { select: { id: true, name: true } },
  vm: { select: { id: true, domainName: true, state: true, networkAddress: { select: { address: true } } } },
  containers: { select: { id: true, name: true, state: true, podLimits: true }, orderBy: { createdAt: 'asc' } },
} as const;

type PodRow = NonNullable<Awaited<ReturnType<PrismaClient['pod']['findFirst']>>>;
type FullRow = Awaited<ReturnType<Pods['fullRow']>>;

/** The limits a pod container's row holds (podLimits); rows always have both. */
export function limitsOf(row: { podLimits: unknown }): { memoryMib: number; pids: number } {
  const l = (row.podLimits ?? {}) as { memoryMib?: number; pids?: number };
  return { memoryMib: l.memoryMib ?? 0, pids: l.pids ?? 0 };
}

export function holdsBudget(state: string): boolean {
  return (CONTAINER_ACTIVE_STATES as readonly string[]).includes(state);
}

/** Give the template build most of a first create's range. */
const CREATE_SLICE = { from: 0, to: 80 } as const;

export class Pods {
  /** Forks and pod templates (pod-forks.ts); set by buildServices. */
  forks: PodForks | null = null;

  constructor(
    private readonly db: PrismaClient,
    private readonly templates: Templates,
    private readonly vms: Vms,
    private readonly networks: Networks,
    private readonly addresses: NetworkAddresses,
    private readonly hostJobs: HostJobs,
    private readonly operations: Operations,
    private readonly events: EventPublisher,
  ) {
    operations.onInterrupted('pod.create', (id) => this.db.pod.deleteMany({ where: { id, state: 'creating' } }).then(() => undefined));
  }

  /** A pod of the tenant by id or name; another tenant's is ERR_NOT_FOUND like an unknown one. */
  async row(tenantId: string, ref: string, field = 'id'): Promise<PodRow> {
    const row = await this.db.pod.findFirst({ where: { tenantId, OR: [{ id: ref }, { name: ref }] } });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no pod ${JSON.stringify(ref)}`, { field });
    return row;
  }

  private fullRow(id: string) {
    return this.db.pod.findUniqueOrThrow({ where: { id }, include: ROW_INCLUDE });
  }

  view(row: FullRow): PodView {
    const live = row.containers.filter((c) => holdsBudget(c.state)).map(limitsOf);
    return {
      id: row.id, tenantId: row.tenantId, name: row.name, state: row.state as PodState,
      vcpus: row.vcpus, memoryMib: row.memoryMib, pids: row.pids, hostId: row.hostId,
      network: row.network ? { id: row.network.id, name: row.network.name, address: row.vm?.networkAddress?.address ?? null } : null,
      vm: row.vm ? { id: row.vm.id, domainName: row.vm.domainName, state: row.vm.state } : null,
      containers: row.containers.map((c) => ({ id: c.id, name: c.name, state: c.state, ...limitsOf(c) })),
      free: {
        memoryMib: Math.max(0, row.memoryMib - POD_RESERVED_MIB - live.reduce((n, l) => n + l.memoryMib, 0)),
        pids: Math.max(0, row.pids - live.reduce((n, l) => n + l.pids, 0)),
      },
      byDocker: row.byDocker,
      createdAt: row.createdAt.toISOString(),
    };
  }

  /**
   * Checks the request and makes the pod's row now (a 4xx at once: name,
   * size, network, quota), then forks its VM in the background: the answer is
   * the operation, whose result is the pod once running. A failed fork leaves
   * no pod behind.
   */
  /** `byDocker`: the Docker API makes this pod for a label naming none (docker/pod-label.ts). */
  async create(actor: Actor, body: CreatePodBody, opts: { byDocker?: boolean } = {}): Promise<OperationView> {
    const tenantId = actor.tenantId;
    const size = podSize(body);
    if (body.template !== undefined) {
      const set = (['vcpus', 'memoryMib', 'pids', 'network'] as const).find((f) => body[f] !== undefined);
      if (set) throw new ForkdError('ERR_VALIDATION', `${set}: a pod made from a template has the template's size and network`, { field: set });
      return this.forks!.fromTemplate(tenantId, body.template, size.name);
    }
    const network = await this.networks.resolve(tenantId, body.network ?? 'default');
    await precheckVmQuota(this.db, tenantId, size.memoryMib); // early; Vms.fork reserves in its transaction
    const host = await this.addresses.hostFor(network, { memoryMib: size.memoryMib });
    const { pod, operation } = await this.db.$transaction(async (tx) => {
      const pod = await tx.pod.create({ data: { tenantId, name: size.name, vcpus: size.vcpus, memoryMib: size.memoryMib, pids: size.pids, hostId: host.hostId, networkId: network.id, byDocker: opts.byDocker === true } });
      const operation = await this.operations.start({ tenantId, hostId: host.hostId, kind: 'pod.create', targetId: pod.id, step: 'queued' }, tx);
      return { pod, operation };
    }).catch((err: unknown) => {
      if (isUniqueViolation(err)) throw new ForkdError('ERR_CONFLICT', `a pod named ${JSON.stringify(size.name)} exists`, { field: 'name' });
      throw err;
    });
    this.operations.run(operation, async (report) => {
      try {
        report({ step: 'template' });
        const templateId = await this.templates.forContainer(host.hostId, null, { vcpus: size.vcpus, memoryMib: size.memoryMib }, report, CREATE_SLICE);
        report({ percent: CREATE_SLICE.to, step: `forking the pod's VM on ${host.hostId}` });
        const vm = await this.vms.fork(actor, templateId, false, network.id);
        await this.db.pod.update({ where: { id: pod.id }, data: { vmId: vm.id, state: 'running' } });
        return this.view(await this.fullRow(pod.id));
      } catch (err) {
        await this.db.pod.delete({ where: { id: pod.id } }).catch(() => {}); // nothing half-made; the operation carries the error
        throw err;
      }
    });
    return operationView(operation);
  }

  async list(tenantId: string): Promise<PodView[]> {
    const rows = await this.db.pod.findMany({ where: { tenantId }, include: ROW_INCLUDE, orderBy: { createdAt: 'desc' } });
    return rows.map((r) => this.view(r));
  }

  async get(tenantId: string, ref: string): Promise<PodView> {
    return this.view(await this.fullRow((await this.row(tenantId, ref)).id));
  }

  /** A resize: the pod's own size answers as it is, any change is refused (rules.ts, assertSameSize). */
  async resize(tenantId: string, ref: string, want: { vcpus?: number; memoryMib?: number; pids?: number }): Promise<PodView> {
    const pod = await this.get(tenantId, ref);
    assertSameSize(pod, want);
    return pod;
  }

  /**
   * Removes the pod, its containers and its VM. Refused (409, field `force`)
   * while a container runs, unless `force`; refused while the pod is still
   * being made (its VM is not there to remove yet).
   */
  async remove(tenantId: string, ref: string, force: boolean): Promise<PodView> {
    const row = await this.fullRow((await this.row(tenantId, ref)).id);
    if (row.state === 'creating') throw new ForkdError('ERR_CONFLICT', `pod ${row.name} is still being created`, { field: 'id' });
    const running = row.containers.filter((c) => c.state === 'running');
    if (running.length > 0 && !force) {
      throw new ForkdError('ERR_CONFLICT', `pod ${row.name} has running containers (${running.map((c) => c.name).join(', ')}): stop them or remove the pod with force`, { field: 'force' });
    }
    if (row.vmId) await this.hostJobs.call(row.hostId, 'vm.destroy', { vmId: row.vmId });
    await this.db.$transaction([
      this.db.container.deleteMany({ where: { podId: row.id } }),
      ...(row.vmId ? [this.db.networkAddress.deleteMany({ where: { vmId: row.vmId } }), this.db.vm.deleteMany({ where: { id: row.vmId } })] : []),
      this.db.pod.delete({ where: { id: row.id } }),
    ]);
    for (const c of row.containers) {
      await this.events.publish({ type: 'container', action: 'destroy', tenantId, actor: { id: c.id, name: c.name, attributes: { pod: row.name, ...(row.vmId ? { vmId: row.vmId } : {}) } } });
    }
    return { ...this.view(row), containers: [], vm: null };
  }
}
