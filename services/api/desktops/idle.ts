// The idle timeout: a desktop nobody has had open for FORKD_DESKTOP_IDLE_SEC
// is removed; FORKD_DESKTOP_IDLE_WARN_SEC before that, a warning goes to the
// log and the event stream (type `desktop`, action `idle-warning`). A desktop
// with a browser connected is never idle: its clock restarts while it is open
// and when the last page closes.
import type { EventPublisher } from '../../contracts/events/index.js';
import type { PrismaClient } from '../db/client.js';
import type { BridgeRegistry } from './vnc-bridge.js';

export interface IdleSettings {
  idleSec: number;
  warnSec: number;
}

export interface IdleDeps {
  db: PrismaClient;
  bridges: BridgeRegistry;
  remove(tenantId: string, id: string): Promise<unknown>;
  events: Pick<EventPublisher, 'publish'>;
  log: { warn(msg: string, fields?: Record<string, unknown>): void };
}

/** What one sweep should do with each desktop (pure: the rules, tested alone). */
export function idleActions(rows: Array<{ id: string; lastActiveAt: Date; idleWarnedAt: Date | null; containerId: string | null; pooled?: boolean }>, open: (id: string) => boolean, s: IdleSettings, now: Date): { warn: string[]; remove: string[]; touch: string[] } {
  const out = { warn: [] as string[], remove: [] as string[], touch: [] as string[] };
  if (s.idleSec === 0) return out;
  for (const r of rows) {
    if (!r.containerId || r.pooled) continue; // still being created, or waiting in the pool for its first user
    if (open(r.id)) { out.touch.push(r.id); continue; }
    const idleMs = now.getTime() - r.lastActiveAt.getTime();
    if (idleMs >= s.idleSec * 1000) out.remove.push(r.id);
    else if (idleMs >= Math.max(0, s.idleSec - s.warnSec) * 1000 && !r.idleWarnedAt) out.warn.push(r.id);
  }
  return out;
}

export class DesktopIdle {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly deps: IdleDeps, private readonly settings: IdleSettings) {}

  /** Sweeps every `everyMs` (default: a tenth of the timeout, between 1 s and 30 s). */
  start(everyMs = Math.min(30_000, Math.max(1000, this.settings.idleSec * 100))): void {
    if (this.settings.idleSec === 0) return;
    this.timer = setInterval(() => { this.sweeping ??= this.sweep().finally(() => { this.sweeping = undefined; }); }, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  async sweep(now = new Date()): Promise<void> {
    const { db } = this.deps;
    try {
      const rows = await db.desktop.findMany({ select: { id: true, tenantId: true, lastActiveAt: true, idleWarnedAt: true, containerId: true, pooled: true } });
      const tenantOf = new Map(rows.map((r) => [r.id, r.tenantId]));
      const act = idleActions(rows, (id) => this.deps.bridges.has(id), this.settings, now);
      if (act.touch.length > 0) await db.desktop.updateMany({ where: { id: { in: act.touch } }, data: { lastActiveAt: now, idleWarnedAt: null } });
      for (const id of act.warn) {
        this.deps.log.warn('desktop idle: it will be removed unless a browser opens it', { desktop: id, inSec: this.settings.warnSec });
        await db.desktop.updateMany({ where: { id }, data: { idleWarnedAt: now } });
        await this.deps.events.publish({ type: 'desktop', action: 'idle-warning', tenantId: tenantOf.get(id)!, actor: { id, attributes: { removeInSec: String(this.settings.warnSec) } } });
      }
      for (const id of act.remove) {
        await this.deps.remove(tenantOf.get(id)!, id).catch((err: unknown) => this.deps.log.warn('could not remove an idle desktop (next sweep tries again)', { desktop: id, err: String(err) }));
        await this.deps.events.publish({ type: 'desktop', action: 'idle-remove', tenantId: tenantOf.get(id)!, actor: { id, attributes: {} } });
      }
    } catch (err) {
      this.deps.log.warn('desktop idle sweep failed (the next one tries again)', { err: String(err) });
    }
  }
}
