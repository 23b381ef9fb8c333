// Applies the committed migrations (prisma/migrations for SQLite,
// prisma/postgresql/migrations for PostgreSQL) at start, keeping
// `_prisma_migrations` exactly as Prisma Migrate does, so `prisma migrate
// deploy|status` work on the same database where the schema engine exists.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ForkdError } from '../../contracts/errors.js';
import type { DatabaseConfig } from './database-url.js';
import { describeDatabase } from './database-url.js';
import type { MigrationStore } from './migration-store.js';
import { PostgresMigrationStore } from './migration-store-postgres.js';
import { SqliteMigrationStore } from './migration-store-sqlite.js';
import { migrationError, planMigrations, readMigrations } from './migrations.js';
import { migrationsDir } from './paths.js';

export interface MigrateOptions {
  /** Another migrations folder (tests); the provider's committed folder by default. */
  readonly migrationsDir?: string;
}

export interface MigrateResult {
  /** Migrations this call applied, in order. */
  readonly applied: string[];
  /** Every migration the database now has, in order. */
  readonly all: string[];
}

/**
 * Brings the database up to date. Creates the SQLite file (and its folder)
 * when missing. Throws ForkdError ERR_DATABASE when a migration fails (it is
 * rolled back and recorded as failed) or the database disagrees with the
 * migrations folder (see planMigrations).
 */
export async function migrate(config: DatabaseConfig, options: MigrateOptions = {}): Promise<MigrateResult> {
  const files = readMigrations(options.migrationsDir ?? migrationsDir(config.kind), config.kind);
  const store = await openStore(config);
  const applied: string[] = [];
  try {
    await store.lock();
    try {
      await store.ensureTable();
      for (;;) {
        const next = planMigrations(files, await store.rows())[0];
        if (next === undefined) break;
        const id = randomUUID();
        const startedAt = new Date();
        try {
          if (await store.apply(next, id, startedAt)) applied.push(next.name);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          // Record the failure as Prisma does; if even that fails, the migration's own error matters more.
          await store.recordFailure(next, id, startedAt, message).catch(() => {});
          throw migrationError(`migration ${next.name} failed and was rolled back: ${message}`, { migration: next.name, problem: 'failed' }, err);
        }
      }
    } finally {
      await store.unlock();
    }
  } catch (err) {
    if (err instanceof ForkdError) throw err;
    throw new ForkdError('ERR_DATABASE', `database migration on ${describeDatabase(config)}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  } finally {
    await store.close();
  }
  return { applied, all: files.map((f) => f.name) };
}

async function openStore(config: DatabaseConfig): Promise<MigrationStore> {
  try {
    if (config.kind === 'sqlite') {
      mkdirSync(dirname(config.file), { recursive: true });
      return new SqliteMigrationStore(config.file);
    }
    return await PostgresMigrationStore.connect(config);
  } catch (err) {
    throw new ForkdError('ERR_DATABASE', `cannot open ${describeDatabase(config)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
