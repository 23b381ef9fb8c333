// The migrator's store for SQLite (better-sqlite3, synchronous). SQLite has
// no session lock, so each migration runs in BEGIN IMMEDIATE (the write lock)
// and re-checks there that nobody applied it first. Foreign keys are off while
// migrating, as SQLite's ALTER TABLE docs prescribe (Prisma's table rebuilds
// drop and recreate tables), and checked with foreign_key_check before commit.
import Database from 'better-sqlite3';
import type { MigrationStore, RawMigrationRow } from './migration-store.js';
import { fromRawRow } from './migration-store.js';
import type { MigrationFile, MigrationRow } from './migrations.js';

// Prisma's own DDL for the table (schema engine, sqlite connector).
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

export class SqliteMigrationStore implements MigrationStore {
  readonly #db: Database.Database;

  constructor(file: string) {
    this.#db = new Database(file);
    this.#db.pragma('busy_timeout = 15000');
    // WAL lets the API read while a write is in progress; it persists in the file.
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('foreign_keys = OFF');
  }

  async lock(): Promise<void> {}
  async unlock(): Promise<void> {}

  async ensureTable(): Promise<void> {
    this.#db.exec(CREATE_TABLE);
  }

  async rows(): Promise<MigrationRow[]> {
    const raw = this.#db.prepare('SELECT * FROM "_prisma_migrations" ORDER BY started_at').all() as RawMigrationRow[];
    return raw.map(fromRawRow);
  }

  async apply(migration: MigrationFile, id: string, startedAt: Date): Promise<boolean> {
    const db = this.#db;
    db.exec('BEGIN IMMEDIATE');
    try {
      const done = db
        .prepare('SELECT 1 FROM "_prisma_migrations" WHERE migration_name = ? AND finished_at IS NOT NULL AND rolled_back_at IS NULL')
        .get(migration.name);
      if (done) {
        db.exec('COMMIT');
        return false;
      }
      db.exec(migration.sql);
      const violations = db.pragma('foreign_key_check') as unknown[];
      if (violations.length > 0) {
        throw new Error(`foreign key violations after the migration: ${JSON.stringify(violations.slice(0, 5))}`);
      }
      db.prepare(
        'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES (?, ?, ?, ?, NULL, NULL, ?, 1)',
      ).run(id, migration.checksum, Date.now(), migration.name, startedAt.getTime());
      db.exec('COMMIT');
      return true;
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }

  async recordFailure(migration: MigrationFile, id: string, startedAt: Date, logs: string): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES (?, ?, NULL, ?, ?, NULL, ?, 0)',
      )
      .run(id, migration.checksum, migration.name, logs, startedAt.getTime());
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

