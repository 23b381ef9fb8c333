// Reads the tables, columns, indexes and foreign keys of a live database
// (SQLite through better-sqlite3, PostgreSQL through node-postgres) into one
// shape, so schema-diff.ts can compare either with schema.prisma.
import Database from 'better-sqlite3';
import pg from 'pg';
import type { PostgresConfig } from './database-url.js';
import type { ReferentialAction } from './schema-model.js';

export interface DbColumn {
  readonly name: string;
  /** The declared type, upper case: TEXT, INTEGER, TIMESTAMP(3), JSONB, … */
  readonly type: string;
  readonly nullable: boolean;
  /** The default as SQL, PostgreSQL's casts removed (`'up'`, `0`, `CURRENT_TIMESTAMP`), or null. */
  readonly default: string | null;
}

export interface DbIndex {
  readonly name: string;
  readonly columns: readonly string[];
  readonly unique: boolean;
}

export interface DbForeignKey {
  /** SQLite keeps constraint names only in the table's SQL; read from there. */
  readonly name: string | undefined;
  readonly columns: readonly string[];
  readonly refTable: string;
  readonly refColumns: readonly string[];
  readonly onDelete: ReferentialAction;
  readonly onUpdate: ReferentialAction;
}

export interface DbTable {
  readonly name: string;
  readonly columns: readonly DbColumn[];
  readonly primaryKey: readonly string[];
  /** Indexes other than the primary key's. */
  readonly indexes: readonly DbIndex[];
  readonly foreignKeys: readonly DbForeignKey[];
}

export function introspectSqlite(file: string): DbTable[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as {
      name: string;
      sql: string;
    }[];
    return tables.map(({ name, sql }) => {
      const q = JSON.stringify(name);
      const cols = db.prepare(`PRAGMA table_info(${q})`).all() as { name: string; type: string; notnull: number; dflt_value: unknown; pk: number }[];
      const indexList = db.prepare(`PRAGMA index_list(${q})`).all() as { name: string; unique: number; origin: string }[];
      const fks = db.prepare(`PRAGMA foreign_key_list(${q})`).all() as {
        id: number;
        seq: number;
        table: string;
        from: string;
        to: string;
        on_update: string;
        on_delete: string;
      }[];
      const fkNames = [...sql.matchAll(/CONSTRAINT\s+"([^"]+)"\s+FOREIGN KEY\s*\(([^)]*)\)/gi)].map((m) => ({
        name: m[1]!,
        columns: m[2]!.split(',').map((c) => c.trim().replace(/^"|"$/g, '')),
      }));
      const byId = new Map<number, typeof fks>();
      for (const fk of fks) byId.set(fk.id, [...(byId.get(fk.id) ?? []), fk]);
      return {
        name,
        columns: cols.map((c) => ({ name: c.name, type: c.type.toUpperCase(), nullable: c.notnull === 0 && c.pk === 0, default: c.dflt_value === null ? null : String(c.dflt_value) })),
        primaryKey: cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
        indexes: indexList
          .filter((i) => i.origin !== 'pk')
          .map((i) => ({
            name: i.name,
            unique: i.unique === 1,
            columns: (db.prepare(`PRAGMA index_info(${JSON.stringify(i.name)})`).all() as { seqno: number; name: string }[])
              .sort((a, b) => a.seqno - b.seqno)
              .map((c) => c.name),
          })),
        foreignKeys: [...byId.values()].map((parts) => {
          const sorted = parts.sort((a, b) => a.seq - b.seq);
          const columns = sorted.map((p) => p.from);
          return {
            name: fkNames.find((n) => n.columns.join() === columns.join())?.name,
            columns,
            refTable: sorted[0]!.table,
            refColumns: sorted.map((p) => p.to),
            onDelete: sorted[0]!.on_delete as ReferentialAction,
            onUpdate: sorted[0]!.on_update as ReferentialAction,
          };
        }),
      };
    });
  } finally {
    db.close();
  }
}

const PG_ACTIONS: Record<string, ReferentialAction> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

export async function introspectPostgres(config: PostgresConfig): Promise<DbTable[]> {
  const client = new pg.Client({ connectionString: config.url });
  await client.connect();
  try {
    const schema = config.schema;
    const tables = await client.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
      [schema],
    );
    const columns = await client.query<{ table: string; name: string; type: string; nullable: string; default: string | null }>(
      `SELECT c.table_name AS table, c.column_name AS name, c.is_nullable AS nullable, c.column_default AS default,
              format_type(a.atttypid, a.atttypmod) AS type
         FROM information_schema.columns c
         JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass AND a.attname = c.column_name
        WHERE c.table_schema = $1 ORDER BY c.table_name, c.ordinal_position`,
      [schema],
    );
    const indexes = await client.query<{ table: string; name: string; unique: boolean; primary: boolean; columns: string[] }>(
      `SELECT t.relname AS table, i.relname AS name, x.indisunique AS unique, x.indisprimary AS primary,
              ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = $1`,
      [schema],
    );
    const fks = await client.query<{ table: string; name: string; columns: string[]; ref_table: string; ref_columns: string[]; del: string; upd: string }>(
      `SELECT t.relname AS table, c.conname AS name, r.relname AS ref_table, c.confdeltype AS del, c.confupdtype AS upd,
              ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns,
              ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS ref_columns
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_class r ON r.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.contype = 'f' AND n.nspname = $1`,
      [schema],
    );
    return tables.rows.map(({ name }) => ({
      name,
      columns: columns.rows
        .filter((c) => c.table === name)
        .map((c) => ({ name: c.name, type: c.type.toUpperCase(), nullable: c.nullable === 'YES', default: c.default === null ? null : c.default.replace(/::[a-z ]+(\(\d+\))?$/i, '') })),
      primaryKey: indexes.rows.find((i) => i.table === name && i.primary)?.columns ?? [],
      indexes: indexes.rows.filter((i) => i.table === name && !i.primary).map((i) => ({ name: i.name, columns: i.columns, unique: i.unique })),
      foreignKeys: fks.rows
        .filter((f) => f.table === name)
        .map((f) => ({
          name: f.name,
          columns: f.columns,
          refTable: f.ref_table,
          refColumns: f.ref_columns,
          onDelete: PG_ACTIONS[f.del] ?? 'NO ACTION',
          onUpdate: PG_ACTIONS[f.upd] ?? 'NO ACTION',
        })),
    }));
  } finally {
    await client.end();
  }
}
