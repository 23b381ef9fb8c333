// The migrator's store for PostgreSQL (node-postgres). Holds Prisma's advisory
// lock for the whole run, so concurrent forkd processes (and `prisma migrate
// deploy`) take turns; each migration runs in its own transaction (DDL is
// transactional in PostgreSQL).
import pg from 'pg';
import type { PostgresConfig } from './database-url.js';
import type { MigrationStore, RawMigrationRow } from './migration-store.js';
import { PRISMA_ADVISORY_LOCK_KEY, fromRawRow } from './migration-store.js';
import type { MigrationFile, MigrationRow } from './migrations.js';

// Prisma's own DDL for the table (schema engine, postgres connector).
const createTable = (table: string): string => `CREATE TABLE IF NOT EXISTS ${table} (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export class PostgresMigrationStore implements MigrationStore {
  readonly #client: pg.Client;
  /** `"schema"."_prisma_migrations"`: qualified, whatever search_path a migration leaves behind. */
  readonly #table: string;
  readonly #schema: string;

  private constructor(client: pg.Client, schema: string) {
    this.#client = client;
    this.#schema = schema;
    this.#table = `${quoteIdent(schema)}."_prisma_migrations"`;
  }

  static async connect(config: PostgresConfig): Promise<PostgresMigrationStore> {
    const client = new pg.Client({ connectionString: config.url, application_name: 'forkd-migrator' });
    await client.connect();
    const store = new PostgresMigrationStore(client, config.schema);
    try {
      // Migrations create unqualified tables: in the configured schema, as Prisma does.
      // (The schema itself is created in ensureTable, under the lock: concurrent
      // CREATE SCHEMA IF NOT EXISTS can fail in PostgreSQL.)
      await client.query(`SET search_path TO ${quoteIdent(config.schema)}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return store;
  }

  async lock(): Promise<void> {
    await this.#client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
  }

  async unlock(): Promise<void> {
    await this.#client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
  }

  async ensureTable(): Promise<void> {
    // Only when missing: CREATE SCHEMA checks the CREATE privilege on the
    // database even with IF NOT EXISTS, which a least-privileged user lacks.
    const exists = await this.#client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.#schema]);
    if (!exists.rowCount) await this.#client.query(`CREATE SCHEMA ${quoteIdent(this.#schema)}`);
    await this.#client.query(createTable(this.#table));
  }

  async rows(): Promise<MigrationRow[]> {
    const { rows } = await this.#client.query<RawMigrationRow>(`SELECT * FROM ${this.#table} ORDER BY started_at`);
    return rows.map(fromRawRow);
  }

  async apply(migration: MigrationFile, id: string, startedAt: Date): Promise<boolean> {
    const c = this.#client;
    await c.query('BEGIN');
    try {
      const done = await c.query(
        `SELECT 1 FROM ${this.#table} WHERE migration_name = $1 AND finished_at IS NOT NULL AND rolled_back_at IS NULL`,
        [migration.name],
      );
      if (done.rowCount) {
        await c.query('COMMIT');
        return false;
      }
      await c.query(migration.sql);
      await c.query(
        `INSERT INTO ${this.#table} (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES ($1, $2, now(), $3, NULL, NULL, $4, 1)`,
        [id, migration.checksum, migration.name, startedAt],
      );
      await c.query('COMMIT');
      return true;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  async recordFailure(migration: MigrationFile, id: string, startedAt: Date, logs: string): Promise<void> {
    await this.#client.query(
      `INSERT INTO ${this.#table} (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES ($1, $2, NULL, $3, $4, NULL, $5, 0)`,
      [id, migration.checksum, migration.name, logs, startedAt],
    );
  }

  async close(): Promise<void> {
    await this.#client.end();
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
