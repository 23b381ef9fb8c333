// Desktops (docs/desktops.md): a container forked from the tenant's desktop
// template, its VNC password rotated before it is handed out, reached from a
// browser with a short-lived token. The API decides and keeps the rows; the
// fork, the snapshot and the exec are the existing container operations.
import { randomUUID } from 'node:crypto';
import { ForkdError } from '../../contracts/errors.js';
import { readStoredEnv, sealEnv } from '../../contracts/secrets/index.js';
import type { Containers, ContainerView } from '../containers.js';
import type { PrismaClient } from '../db/client.js';
import type { ContainerForks, ForkResult } from '../fork/container-forks.js';
import type { Images } from '../images.js';
import type { Operations } from '../operations/operations.js';
import { view as operationView, type OperationView } from '../operations/rules.js';
import { awaitOperation } from './await-operation.js';
import { desktopTemplateId, type DesktopSize, type DesktopTemplates } from './desktop-templates.js';
import type { GuestExec } from './guest-exec.js';
import type { GuestPort } from './guest-port.js';
import type { VncTarget } from './vnc-bridge.js';
import { DEFAULT_DESKTOP_IMAGE, DESKTOP_PASSWORD_FILE, DESKTOP_VNC_PORT } from './session-facts.js';
import { mintToken, tokenMatches } from './token.js';
import { newVncPassword } from './vnc-auth.js';
import type { DesktopView } from '../../contracts/desktop-view.js';

export interface CreateDesktopBody {
  image?: string;
  /** A snapshot template of the tenant's to fork instead of the desktop template for image and size. */
  template?: string;
  width?: number;
  height?: number;
}

export type { DesktopView };

export interface DesktopSettings {
  tokenTtlSec: number;
  memoryMib: number;
  /** Ready desktops kept per (tenant, image, size) once one was asked for (FORKD_DESKTOP_POOL_SIZE). */
  poolSize: number;
}

export interface DesktopsDeps {
  db: PrismaClient;
  images: Images;
  containers: Containers;
  forks: ContainerForks;
  templates: DesktopTemplates;
  operations: Operations;
  exec: GuestExec;
  /** Connections to a port in the desktop's guest (the VNC bridge). */
  port: GuestPort;
  secretKey: Buffer;
  settings: DesktopSettings;
  log: { warn(msg: string, fields?: Record<string, unknown>): void };
}

type Row = NonNullable<Awaited<ReturnType<PrismaClient['desktop']['findFirst']>>>;

export const DEFAULT_SIZE: DesktopSize = { width: 1280, height: 800 };
/** The sealed password's subject: an envelope copied to another desktop's row does not open. */
const passwordSubject = (id: string) => `desktop-vnc:${id}`;

export class Desktops {
  /** Pool refills under way, by template id. */
  private readonly refilling = new Set<string>();
  /** Called with a desktop's id when it is removed: its open browser bridges close (the page says so). */
  onRemoved: (id: string) => void = () => undefined;

  constructor(private readonly deps: DesktopsDeps) {
    deps.operations.onInterrupted('desktop.create', async (id) => {
      await this.deps.db.desktop.deleteMany({ where: { id, containerId: null } });
    });
  }

  async create(tenantId: string, body: CreateDesktopBody): Promise<OperationView> {
    const size = { width: body.width ?? DEFAULT_SIZE.width, height: body.height ?? DEFAULT_SIZE.height };
    const imageRef = body.image ?? DEFAULT_DESKTOP_IMAGE;
    const found = await this.deps.images.resolve(tenantId, imageRef).catch((err: unknown) => {
      if (err instanceof ForkdError && err.code === 'ERR_NOT_FOUND' && body.image === undefined) {
        throw new ForkdError('ERR_NOT_FOUND', `no image ${DEFAULT_DESKTOP_IMAGE} in this tenant: build and import it with \`forkd image build desktop --import\``, { field: 'image' });
      }
      throw err;
    });
    const image = { id: found.id, digest: found.digest };
    if (body.template !== undefined) return this.make(tenantId, image, size, body.template, false);
    const taken = this.deps.settings.poolSize > 0 ? await this.takePooled(tenantId, desktopTemplateId(tenantId, image.id, size)) : null;
    void this.refill(tenantId, image, size);
    if (!taken) return this.make(tenantId, image, size, undefined, false);
    // Already made: the operation only says so, so a create answers the same way whether or not the pool had one.
    const operation = await this.deps.operations.start({ tenantId, hostId: null, kind: 'desktop.create', targetId: taken.id, step: 'taken from the pool' });
    this.deps.operations.run(operation, async () => this.view(taken));
    return operationView(operation);
  }

  /** A ready pooled desktop of this template, claimed for the caller (updateMany: two creates never get the same one). */
  private async takePooled(tenantId: string, templateId: string): Promise<Row | null> {
    const { db } = this.deps;
    const candidates = await db.desktop.findMany({ where: { tenantId, templateId, pooled: true, vncPassword: { not: null } }, orderBy: { createdAt: 'asc' }, take: 4 });
    for (const c of candidates) {
      const now = new Date();
      const claimed = await db.desktop.updateMany({ where: { id: c.id, pooled: true }, data: { pooled: false, lastActiveAt: now, createdAt: now } });
      if (claimed.count === 1) return { ...c, pooled: false, lastActiveAt: now, createdAt: now };
    }
    return null;
  }

  /** Keeps FORKD_DESKTOP_POOL_SIZE ready desktops of this tenant, image and size, one fork at a time. */
  private async refill(tenantId: string, image: { id: string; digest: string }, size: DesktopSize): Promise<void> {
    const want = this.deps.settings.poolSize;
    const templateId = desktopTemplateId(tenantId, image.id, size);
    if (want === 0 || this.refilling.has(templateId)) return;
    this.refilling.add(templateId);
    try {
      while ((await this.deps.db.desktop.count({ where: { tenantId, templateId, pooled: true } })) < want) {
        await awaitOperation(this.deps.operations, tenantId, await this.make(tenantId, image, size, undefined, true));
      }
    } catch (err) {
      this.deps.log.warn('could not refill the desktop pool (the next create tries again)', { tenant: tenantId, template: templateId, err: String(err) });
    } finally {
      this.refilling.delete(templateId);
    }
  }

  /** A new desktop: its row now, then (in the operation) the template, the fork and the secrets. */
  private async make(tenantId: string, image: { id: string; digest: string }, size: DesktopSize, templateGiven: string | undefined, pooled: boolean): Promise<OperationView> {
    const id = randomUUID();
    const { db, operations } = this.deps;
    const operation = await db.$transaction(async (tx) => {
      await tx.desktop.create({ data: { id, tenantId, templateId: templateGiven ?? desktopTemplateId(tenantId, image.id, size), width: size.width, height: size.height, pooled } });
      return operations.start({ tenantId, hostId: null, kind: 'desktop.create', targetId: id, step: 'queued' }, tx);
    });
    operations.run(operation, async (report) => {
      let containerId: string | undefined;
      try {
        const template = templateGiven ?? await this.deps.templates.ensure(tenantId, image, size, report);
        report({ percent: 85, step: 'forking the desktop' });
        const fork = (await awaitOperation(operations, tenantId, await this.deps.forks.fromSnapshot(tenantId, template, { name: `desktop-${id.slice(0, 8)}` }))) as ForkResult;
        containerId = fork.containers[0]!.id;
        await db.desktop.update({ where: { id }, data: { containerId } });
        report({ percent: 95, step: 'rotating the desktop\'s secrets' });
        const password = await this.rotateSecrets(tenantId, containerId);
        await db.desktop.update({ where: { id }, data: { vncPassword: sealEnv(this.deps.secretKey, passwordSubject(id), [`VNC=${password}`]) as string, lastActiveAt: new Date() } });
        return this.view(await db.desktop.findUniqueOrThrow({ where: { id } }));
      } catch (err) {
        // Nothing half-made is left: the row goes, and the container if the fork made one.
        if (containerId) await this.deps.containers.remove(tenantId, containerId, true).catch(() => undefined); // best effort: the operation needs the first error
        await db.desktop.deleteMany({ where: { id } });
        throw err;
      }
    });
    return operationView(operation);
  }

  /**
   * What a sibling forked from the same template also knows, made new: the VNC
   * password (Xvnc re-reads the file at each login) and the container's
   * machine-id. The kernel's RNG, VMGenID, the VM's hostname and machine-id
   * are renewed by every fork (docs/clone-hazards.md); the container's own
   * hostname (UTS, and /etc/hostname, a read-only bind mount) stays the template's.
   */
  private async rotateSecrets(tenantId: string, containerId: string): Promise<string> {
    const password = newVncPassword();
    const script = [
      'set -e', 'umask 077',
      `printf '%s\\n' "$FORKD_VNC_PASSWORD" | tigervncpasswd -f > ${DESKTOP_PASSWORD_FILE}.new`,
      `mv ${DESKTOP_PASSWORD_FILE}.new ${DESKTOP_PASSWORD_FILE}`,
      'umask 022',
      "tr -d '-' < /proc/sys/kernel/random/uuid > /etc/machine-id",
    ].join('\n');
    const r = await this.deps.exec(tenantId, containerId, ['sh', '-c', script], [`FORKD_VNC_PASSWORD=${password}`]);
    if (r.exitCode !== 0) throw new ForkdError('ERR_GUEST', `could not set the desktop's VNC password (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
    return password;
  }

  async row(tenantId: string, id: string): Promise<Row> {
    const row = await this.deps.db.desktop.findFirst({ where: { id, tenantId, pooled: false } });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no desktop ${JSON.stringify(id)}`, { field: 'id' });
    return row;
  }

  async view(row: Row, container?: { state: string } | null): Promise<DesktopView> {
    const c = container !== undefined ? container : row.containerId ? await this.deps.db.container.findUnique({ where: { id: row.containerId }, select: { state: true } }) : null;
    return {
      id: row.id, tenantId: row.tenantId,
      state: !row.containerId || !row.vncPassword ? 'creating' : c?.state ?? 'removed',
      containerId: row.containerId, templateId: row.templateId, width: row.width, height: row.height,
      createdAt: row.createdAt.toISOString(), lastActiveAt: row.lastActiveAt.toISOString(),
    };
  }

  async list(tenantId: string): Promise<DesktopView[]> {
    const rows = await this.deps.db.desktop.findMany({ where: { tenantId, pooled: false }, orderBy: { createdAt: 'desc' } });
    const ids = rows.flatMap((r) => (r.containerId ? [r.containerId] : []));
    const states = new Map((await this.deps.db.container.findMany({ where: { id: { in: ids } }, select: { id: true, state: true } })).map((c) => [c.id, c]));
    return Promise.all(rows.map((r) => this.view(r, r.containerId ? states.get(r.containerId) ?? null : null)));
  }

  async get(tenantId: string, id: string): Promise<DesktopView> {
    return this.view(await this.row(tenantId, id));
  }

  /** Removes the desktop and its container; open pages are told. */
  async remove(tenantId: string, id: string): Promise<DesktopView> {
    const row = await this.row(tenantId, id);
    if (!row.containerId) throw new ForkdError('ERR_CONFLICT', `desktop ${id} is still being created`, { field: 'id' });
    const view = await this.view(row);
    await this.deps.containers.remove(tenantId, row.containerId, true).catch((err: unknown) => {
      if (!(err instanceof ForkdError && err.code === 'ERR_NOT_FOUND')) throw err; // already gone: the row goes anyway
    });
    await this.deps.db.desktop.deleteMany({ where: { id } });
    this.onRemoved(id);
    return { ...view, state: 'removed' };
  }

  /** A new browser token (the previous one stops working). */
  async mintToken(tenantId: string, id: string): Promise<{ token: string; expiresAt: string }> {
    const row = await this.row(tenantId, id);
    if (!row.containerId || !row.vncPassword) throw new ForkdError('ERR_CONFLICT', `desktop ${id} is still being created`, { field: 'id' });
    const minted = mintToken(this.deps.settings.tokenTtlSec);
    await this.deps.db.desktop.update({ where: { id }, data: { tokenHash: minted.hash, tokenExpiresAt: minted.expiresAt } });
    return { token: minted.token, expiresAt: minted.expiresAt.toISOString() };
  }

  /**
   * The desktop a browser token opens: 404 for an unknown id, 401 for a wrong
   * or expired token. Checked before anything reaches the guest.
   */
  async authorize(id: string, token: string | undefined): Promise<Row> {
    const row = await this.deps.db.desktop.findUnique({ where: { id } });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no desktop ${JSON.stringify(id)}`, { field: 'id' });
    if (!tokenMatches(token, row)) {
      const expired = row.tokenExpiresAt && row.tokenExpiresAt.getTime() <= Date.now();
      throw new ForkdError('ERR_UNAUTHORIZED', expired ? 'the desktop token is wrong or has expired: mint a new one (POST /v1/desktops/:id/token)' : 'the desktop token is wrong or has expired', { field: 'token' });
    }
    if (!row.containerId || !row.vncPassword) throw new ForkdError('ERR_CONFLICT', `desktop ${id} is still being created`, { field: 'id' });
    return row;
  }

  /**
   * How the bridge reaches the desktop's Xvnc (guest loopback port 5901,
   * through the API↔hostd relay and the agent: nothing published on the host)
   * and the password it answers with.
   */
  async vncTarget(row: Row): Promise<VncTarget> {
    const c = await this.deps.db.container.findUnique({ where: { id: row.containerId! }, select: { state: true } });
    if (!c || c.state !== 'running') throw new ForkdError('ERR_NOT_FOUND', `desktop ${row.id} is not running`, { field: 'id' });
    const [kv] = readStoredEnv(this.deps.secretKey, passwordSubject(row.id), row.vncPassword);
    return { connect: () => this.deps.port(row.tenantId, row.containerId!, DESKTOP_VNC_PORT), password: kv!.slice('VNC='.length) };
  }

  async touch(id: string): Promise<void> {
    await this.deps.db.desktop.updateMany({ where: { id }, data: { lastActiveAt: new Date(), idleWarnedAt: null } });
  }
}

export type { ContainerView };
