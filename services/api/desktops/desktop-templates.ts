// Desktop templates: one per (tenant, image, size), made on first use from a
// running desktop session and kept. A seed container runs the image's session
// (Xvnc, window manager, terminal), and once its terminal is up it is frozen
// into a snapshot template (docs/fork.md "Forking a running container"); the
// seed is then removed. Every desktop is a fork of that snapshot, so it starts
// with the session already running. The template is the tenant's (it holds a
// session that ran under the tenant's image) and named by a hash, so the same
// request finds it again.
import { createHash, randomUUID } from 'node:crypto';
import { ForkdError } from '../../contracts/errors.js';
import type { Containers, ContainerView } from '../containers.js';
import type { PrismaClient } from '../db/client.js';
import type { ContainerSnapshots } from '../fork/container-snapshots.js';
import type { ReportProgress } from '../operations/operations.js';
import type { GuestExec } from './guest-exec.js';
import { awaitOperation, type OperationWaiter } from './await-operation.js';

export interface DesktopSize {
  width: number;
  height: number;
}

export interface DesktopTemplatesDeps {
  db: PrismaClient;
  containers: Containers;
  snapshots: ContainerSnapshots;
  operations: OperationWaiter;
  exec: GuestExec;
  memoryMib: number;
  log: { warn(msg: string, fields?: Record<string, unknown>): void };
}

/** How long the seed's session may take to show its terminal (TCG, busy host). */
const SESSION_READY_TRIES = 180;
/** How long another request's build of the same template is waited for. */
const BUILD_WAIT_MS = 30 * 60_000;

/**
 * How templates are made; part of the id, so a change here builds new ones.
 * 2: the seed publishes no port (forks of a version-1 template would publish
 * Xvnc's port on the host again).
 */
const TEMPLATE_RECIPE = 2;

/** The template's id: a hash of what makes it (a snapshot name: ^[a-z0-9][a-z0-9_-]{0,47}$). */
export function desktopTemplateId(tenantId: string, imageId: string, size: DesktopSize): string {
  const h = createHash('sha256').update(`${tenantId}\0${imageId}\0${size.width}x${size.height}\0${TEMPLATE_RECIPE}`).digest('hex');
  return `desktop-${h.slice(0, 32)}`;
}

export class DesktopTemplates {
  /** Builds under way in this process, by template id: a second request waits for the first. */
  private readonly building = new Map<string, Promise<string>>();

  constructor(private readonly deps: DesktopTemplatesDeps) {}

  /** The ready template for this tenant, image and size, built now if there is none. */
  async ensure(tenantId: string, image: { id: string; digest: string }, size: DesktopSize, report: ReportProgress): Promise<string> {
    const id = desktopTemplateId(tenantId, image.id, size);
    const pending = this.building.get(id);
    if (pending) return pending;
    // Registered before the first await, so a second request in this process always finds it.
    const work = (async () => {
      const row = await this.deps.db.template.findUnique({ where: { id } });
      if (row?.state === 'ready') return id;
      if (row?.state === 'building') return this.waitReady(id);
      if (row) await this.deps.db.template.delete({ where: { id } }); // failed or stale: build again
      return this.build(tenantId, image, size, id, report);
    })();
    this.building.set(id, work);
    try {
      return await work;
    } finally {
      this.building.delete(id);
    }
  }

  private async build(tenantId: string, image: { id: string; digest: string }, size: DesktopSize, id: string, report: ReportProgress): Promise<string> {
    const { containers, snapshots, operations } = this.deps;
    report({ percent: 5, step: 'desktop template: starting the session' });
    const seedOp = await containers.create(tenantId, {
      image: image.digest,
      name: `desktop-seed-${randomUUID().slice(0, 8)}`,
      env: [`FORKD_DESKTOP_GEOMETRY=${size.width}x${size.height}`],
      vm: { memoryMib: this.deps.memoryMib },
      // No published port: the bridge reaches Xvnc (guest loopback, DESKTOP_VNC_PORT) over the relay (guest-port.ts).
    });
    const seed = (await awaitOperation(operations, tenantId, seedOp)) as ContainerView;
    try {
      report({ percent: 60, step: 'desktop template: waiting for the terminal' });
      await this.waitForSession(tenantId, seed.id);
      report({ percent: 75, step: 'desktop template: freezing the session' });
      await awaitOperation(operations, tenantId, await snapshots.snapshot(tenantId, seed.id, id));
      return id;
    } finally {
      // The snapshot has its own copy of the seed's memory and disk: the seed is not needed any more.
      await containers.remove(tenantId, seed.id, true).catch((err: unknown) => this.deps.log.warn('could not remove a desktop seed container (remove it by hand)', { container: seed.id, err: String(err) }));
    }
  }

  /** The session script starts Xvnc, then the window manager, then xterm: xterm running means all three are. */
  private async waitForSession(tenantId: string, containerId: string): Promise<void> {
    for (let i = 0; i < SESSION_READY_TRIES; i++) {
      const r = await this.deps.exec(tenantId, containerId, ['sh', '-c', 'grep -qsx xterm /proc/[0-9]*/comm && test -S /tmp/.X11-unix/X1']);
      if (r.exitCode === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    throw new ForkdError('ERR_TIMEOUT', `the desktop session did not show its terminal in the seed container ${containerId}`);
  }

  private async waitReady(id: string): Promise<string> {
    const deadline = Date.now() + BUILD_WAIT_MS;
    while (Date.now() < deadline) {
      const row = await this.deps.db.template.findUnique({ where: { id } });
      if (row?.state === 'ready') return id;
      if (!row || row.state !== 'building') throw new ForkdError('ERR_CONFLICT', `desktop template ${id} could not be built (${row?.error ?? 'removed'}); ask again`, { field: 'template' });
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    throw new ForkdError('ERR_TIMEOUT', `desktop template ${id} is still building`);
  }
}
