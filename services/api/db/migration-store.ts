// What the migrator needs from a database: one small interface, implemented
// once per engine (migration-store-sqlite.ts, migration-store-postgres.ts).
import type { MigrationFile, MigrationRow } from './migrations.js';

export interface MigrationStore {
  /** Serialises migrators across processes for the whole run (PostgreSQL: an advisory lock). */
  lock(): Promise<void>;
  unlock(): Promise<void>;
  /** Creates `_prisma_migrations` exactly as Prisma Migrate does, if missing. */
  ensureTable(): Promise<void>;
  rows(): Promise<MigrationRow[]>;
  /**
   * Applies one migration and records it in one transaction. Returns false,
   * changing nothing, when another process applied it meanwhile.
   */
  apply(migration: MigrationFile, id: string, startedAt: Date): Promise<boolean>;
  /** Records a failed attempt (finished_at null, the error in logs), as Prisma does. */
  recordFailure(migration: MigrationFile, id: string, startedAt: Date, logs: string): Promise<void>;
  close(): Promise<void>;
}

/** Prisma's advisory lock key for migrations, so `prisma migrate deploy` and forkd exclude each other. */
export const PRISMA_ADVISORY_LOCK_KEY = 72707369;

/** Reads a timestamp the way either engine returns it (Date, epoch ms, or text). */
export function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number' || typeof value === 'bigint') return new Date(Number(value));
  const text = String(value);
  return new Date(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(text) ? `${text.replace(' ', 'T')}Z` : text);
}

/** A `_prisma_migrations` row as either driver returns it (timestamps in the driver's own form). */
export interface RawMigrationRow {
  id: string;
  checksum: string;
  finished_at: unknown;
  migration_name: string;
  logs: string | null;
  rolled_back_at: unknown;
  started_at: unknown;
  applied_steps_count: number | bigint;
}

export function fromRawRow(r: RawMigrationRow): MigrationRow {
  return {
    id: r.id,
    checksum: r.checksum,
    finishedAt: toDate(r.finished_at),
    migrationName: r.migration_name,
    logs: r.logs,
    rolledBackAt: toDate(r.rolled_back_at),
    startedAt: toDate(r.started_at) ?? new Date(0),
    appliedStepsCount: Number(r.applied_steps_count),
  };
}
