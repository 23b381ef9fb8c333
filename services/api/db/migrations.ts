// The committed migrations (Prisma's folder layout) and the rules for what may
// be applied, given what `_prisma_migrations` says was applied before. Pure
// apart from reading the folder, so the rules are unit-tested.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ForkdError } from '../../contracts/errors.js';
import type { DatabaseKind } from './database-url.js';

export interface MigrationFile {
  /** The folder name, e.g. 20261122153000_init; also `migration_name`. */
  readonly name: string;
  readonly sql: string;
  /** sha256 hex of migration.sql's bytes, as Prisma records it. */
  readonly checksum: string;
}

/** A row of `_prisma_migrations`, the bookkeeping table Prisma Migrate keeps. */
export interface MigrationRow {
  readonly id: string;
  readonly checksum: string;
  readonly finishedAt: Date | null;
  readonly migrationName: string;
  readonly logs: string | null;
  readonly rolledBackAt: Date | null;
  readonly startedAt: Date;
  readonly appliedStepsCount: number;
}

export function checksumOf(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads `<dir>/<name>/migration.sql` for every migration folder, sorted by
 * name (Prisma's order: the timestamp prefix). migration_lock.toml must name
 * the provider, so a PostgreSQL folder is never applied to SQLite.
 */
export function readMigrations(dir: string, kind: DatabaseKind): MigrationFile[] {
  const lock = join(dir, 'migration_lock.toml');
  if (!existsSync(lock)) throw migrationError(`${lock} is missing: is ${dir} a Prisma migrations folder?`);
  const provider = /^\s*provider\s*=\s*"([^"]+)"/m.exec(readFileSync(lock, 'utf8'))?.[1];
  if (provider !== kind) throw migrationError(`${lock} is for provider "${provider ?? '?'}", not ${kind}`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const file = join(dir, name, 'migration.sql');
      if (!existsSync(file)) throw migrationError(`migration ${name} has no migration.sql (${file})`);
      const bytes = readFileSync(file);
      return { name, sql: bytes.toString('utf8'), checksum: checksumOf(bytes) };
    });
}

/**
 * Which migrations to apply, in order. Refuses, with what to do, when the
 * database and the folder disagree:
 * - a migration failed earlier and was not marked rolled back (Prisma's P3009);
 * - an applied migration's file changed since (checksum differs);
 * - the database has a migration this forkd does not know (it is newer).
 * Rows marked rolled back are ignored, as Prisma does.
 */
export function planMigrations(files: readonly MigrationFile[], rows: readonly MigrationRow[]): MigrationFile[] {
  const live = rows.filter((r) => r.rolledBackAt === null);
  const failed = live.find((r) => r.finishedAt === null);
  if (failed) {
    throw migrationError(
      `migration ${failed.migrationName} failed earlier and the database refuses further migrations until it is resolved. ` +
        `forkd runs each migration in a transaction, so the failed one left nothing behind: fix its migration.sql, then mark the attempt ` +
        `rolled back (\`npx prisma migrate resolve --rolled-back ${failed.migrationName}\`, or ` +
        `UPDATE "_prisma_migrations" SET rolled_back_at = <now> WHERE id = '${failed.id}') and start again. Its log: ${failed.logs ?? '(none)'}`,
      { migration: failed.migrationName, problem: 'failed' },
    );
  }
  const byName = new Map(files.map((f) => [f.name, f]));
  for (const row of live) {
    const file = byName.get(row.migrationName);
    if (!file) {
      throw migrationError(
        `the database has migration ${row.migrationName}, which this forkd does not have: the database belongs to a newer forkd (or another application)`,
        { migration: row.migrationName, problem: 'unknown' },
      );
    }
    if (file.checksum !== row.checksum) {
      throw migrationError(
        `migration ${row.migrationName} was modified after it was applied (checksum ${row.checksum} in the database, ${file.checksum} on disk): ` +
          'restore its migration.sql and put the change in a new migration',
        { migration: row.migrationName, problem: 'checksum' },
      );
    }
  }
  const applied = new Set(live.map((r) => r.migrationName));
  return files.filter((f) => !applied.has(f.name));
}

export function migrationError(message: string, detail?: Record<string, unknown>, cause?: unknown): ForkdError {
  return new ForkdError('ERR_DATABASE', `database migration: ${message}`, {
    ...(detail === undefined ? {} : { detail }),
    ...(cause === undefined ? {} : { cause }),
  });
}
