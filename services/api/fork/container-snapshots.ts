// Snapshots: a running container frozen into a template (docs/fork.md). The
// Template row is made now (a bad name, a taken name or a stopped container is
// a 4xx at once); hostd's container.snapshot captures it in the background; a
// failure removes the row. The row is a template like any other (pool, fork,
// delete refused while VMs use it), owned through the container's image, with
// kind 'snapshot' and its origin: what ContainerForks.fromSnapshot needs to
// make containers from it (command, env sealed for the template, ports).
import { ForkdError } from '../../contracts/errors.js';
import type { PublishedPort } from '../../contracts/jobs.js';
import type { Containers } from '../containers.js';
import type { PrismaClient } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import type { HostJobs } from '../host-jobs.js';
import { templateStates } from '../lifecycle/state-writes.js';
import type { Operations } from '../operations/operations.js';
import { view as operationView, type OperationView } from '../operations/rules.js';
import type { Templates } from '../templates.js';
import type { Owner } from '../tenancy/scope.js';
import { snapshotEnvSubject, type SnapshotOrigin } from './container-forks.js';

/** A template id: it names the template's directory on the host. `fp-` is hostd's, for fork points. */
export const SNAPSHOT_NAME_PATTERN = '^(?!fp-)[a-z0-9][a-z0-9_-]{0,47}$';

/** The body of every snapshot request (a container's, a pod's): the new template's name. */
export const snapshotBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 48, pattern: SNAPSHOT_NAME_PATTERN } },
} as const;
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;

export interface ContainerSnapshotsDeps {
  db: PrismaClient;
  containers: Containers;
  templates: Templates;
  hostJobs: HostJobs;
  operations: Operations;
}

export class ContainerSnapshots {
  constructor(private readonly deps: ContainerSnapshotsDeps) {
    // Lost with a restarted API: the row says so rather than `building` forever (as a template build's does).
    deps.operations.onInterrupted('template.snapshot', async (id) => {
      await deps.db.template.updateMany({ where: { id, state: 'building' }, data: { state: 'failed', error: 'the API restarted during the snapshot; delete it and snapshot again' } });
    });
  }

  async snapshot(owner: Owner, idOrName: string, name: string): Promise<OperationView> {
    if (!new RegExp(SNAPSHOT_NAME_PATTERN).test(name)) {
      throw new ForkdError('ERR_VALIDATION', 'name must be 1–48 of a-z 0-9 _ -, starting with a letter or digit, and not fp-', { field: 'name' });
    }
    const { db, containers } = this.deps;
    const parent = await containers.row(owner, idOrName);
    if (parent.state !== 'running' || parent.vm.state !== 'running') {
      throw new ForkdError('ERR_CONFLICT', `container ${parent.name} is ${parent.state}: only a running container can be snapshotted`, { field: 'container' });
    }
    const base = parent.vm.templateId ? await db.template.findUnique({ where: { id: parent.vm.templateId } }) : null;
    if (!base) throw new ForkdError('ERR_CONFLICT', `container ${parent.name} was cold-booted: only a forked container can be snapshotted`, { field: 'container' });
    const tenantId = parent.tenantId;
    const origin: Omit<SnapshotOrigin, 'guestContainerId' | 'takenAt'> = {
      containerId: parent.id,
      name: parent.name,
      imageId: parent.imageId,
      command: parent.command as string[],
      env: containers.sealEnv(snapshotEnvSubject(name), containers.storedEnv(parent)),
      workdir: parent.workdir,
      ports: ((parent.ports as PublishedPort[] | null) ?? []).map((p) => ({ containerPort: p.containerPort, hostIp: p.hostAddress, hostPort: 0 })),
      networkId: parent.vm.networkAddress?.network.id ?? null,
    };
    const { operation } = await db.$transaction(async (tx) => {
      try {
        await tx.template.create({
          data: {
            id: name, hostId: parent.vm.hostId, imageId: parent.imageId, vcpus: parent.vm.vcpus, memoryMib: parent.vm.memoryMib,
            accel: base.accel, qemuVersion: base.qemuVersion, machineType: base.machineType, kind: 'snapshot', buildSlot: name,
            origin: origin as object, parentTemplateId: base.id,
          },
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ForkdError('ERR_CONFLICT', `a template named ${JSON.stringify(name)} exists`, { field: 'name' });
        throw err;
      }
      const operation = await this.deps.operations.start({ tenantId, hostId: parent.vm.hostId, kind: 'template.snapshot', targetId: name, step: 'queued' }, tx);
      return { operation };
    });
    this.deps.operations.run(operation, async (report) => {
      try {
        report({ step: `freezing ${parent.name}` });
        const out = await this.deps.hostJobs.call(parent.vm.hostId, 'container.snapshot', { parent: { vmId: parent.vmId, containerId: parent.id }, templateId: name }, { timeoutMs: SNAPSHOT_TIMEOUT_MS, jobId: operation.id });
        const takenAt = new Date();
        await templateStates.write(db, name, 'ready', {
          readyAt: takenAt, accel: out.template.accel, qemuVersion: out.template.qemuVersion, machineType: out.template.machineType, checksums: out.template.files as object, error: null,
          origin: { ...origin, guestContainerId: out.guestContainerId, takenAt: takenAt.toISOString() } as object,
        });
        const row = await db.template.findUniqueOrThrow({ where: { id: name }, include: { image: true } });
        return { ...(await this.deps.templates.view(row)), pauseMs: out.pauseMs };
      } catch (err) {
        await db.template.delete({ where: { id: name } }).catch(() => undefined); // best effort: the operation needs the job's error
        throw err;
      }
    });
    return operationView(operation);
  }
}
