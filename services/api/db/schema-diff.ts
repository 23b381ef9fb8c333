// Compares a live database (introspect.ts) with what schema.prisma says it
// should be (schema-model.ts). Returns one line per difference; none means
// the migrations produced exactly the schema's tables, columns (type and
// nullability), primary keys, indexes (by Prisma's names) and foreign keys.
import type { DatabaseKind } from './database-url.js';
import type { DbTable } from './introspect.js';
import type { ScalarType, SchemaModel } from './schema-model.js';

/** The column type Prisma Migrate creates for each scalar, per provider. */
export const COLUMN_TYPES: Record<DatabaseKind, Record<ScalarType, string>> = {
  sqlite: {
    String: 'TEXT',
    Int: 'INTEGER',
    BigInt: 'BIGINT',
    Float: 'REAL',
    Decimal: 'DECIMAL',
    Boolean: 'BOOLEAN',
    DateTime: 'DATETIME',
    Json: 'JSONB',
    Bytes: 'BLOB',
  },
  postgresql: {
    String: 'TEXT',
    Int: 'INTEGER',
    BigInt: 'BIGINT',
    Float: 'DOUBLE PRECISION',
    Decimal: 'NUMERIC(65,30)',
    Boolean: 'BOOLEAN',
    DateTime: 'TIMESTAMP(3) WITHOUT TIME ZONE',
    Json: 'JSONB',
    Bytes: 'BYTEA',
  },
};

/** Tables the migrator itself keeps, beyond the schema's. */
export const BOOKKEEPING_TABLES: readonly string[] = ['_prisma_migrations'];

export function diffSchema(kind: DatabaseKind, expected: SchemaModel, actual: readonly DbTable[]): string[] {
  const out: string[] = [];
  const live = new Map(actual.map((t) => [t.name, t]));
  for (const t of actual) {
    if (!expected.tables.some((e) => e.name === t.name) && !BOOKKEEPING_TABLES.includes(t.name)) out.push(`extra table ${t.name}`);
  }
  for (const want of expected.tables) {
    const have = live.get(want.name);
    if (!have) {
      out.push(`missing table ${want.name}`);
      continue;
    }
    const cols = new Map(have.columns.map((c) => [c.name, c]));
    for (const c of want.columns) {
      const h = cols.get(c.name);
      if (!h) {
        out.push(`missing column ${want.name}.${c.name}`);
        continue;
      }
      const type = COLUMN_TYPES[kind][c.type];
      if (h.type !== type) out.push(`column ${want.name}.${c.name} is ${h.type}, schema says ${c.type} (${type})`);
      if (h.nullable !== c.nullable) out.push(`column ${want.name}.${c.name} is ${h.nullable ? 'nullable' : 'NOT NULL'}, schema says ${c.nullable ? 'optional' : 'required'}`);
      if (h.default !== c.dbDefault) out.push(`column ${want.name}.${c.name} has default ${h.default ?? '(none)'}, schema says ${c.dbDefault ?? '(none)'}`);
    }
    for (const h of have.columns) if (!want.columns.some((c) => c.name === h.name)) out.push(`extra column ${want.name}.${h.name}`);
    if (have.primaryKey.join() !== want.primaryKey.join()) out.push(`table ${want.name} primary key is (${have.primaryKey.join(', ')}), schema says (${want.primaryKey.join(', ')})`);
    for (const i of want.indexes) {
      const h = have.indexes.find((x) => x.name === i.name);
      if (!h) out.push(`missing ${i.unique ? 'unique ' : ''}index ${i.name} on ${want.name}(${i.columns.join(', ')})`);
      else if (h.unique !== i.unique || h.columns.join() !== i.columns.join()) {
        out.push(`index ${i.name} is ${h.unique ? 'unique ' : ''}(${h.columns.join(', ')}), schema says ${i.unique ? 'unique ' : ''}(${i.columns.join(', ')})`);
      }
    }
    for (const h of have.indexes) if (!want.indexes.some((i) => i.name === h.name)) out.push(`extra index ${h.name} on ${want.name}(${h.columns.join(', ')})`);
    for (const fk of want.foreignKeys) {
      const h = have.foreignKeys.find((x) => x.columns.join() === fk.columns.join());
      const describe = `${want.name}(${fk.columns.join(', ')}) → ${fk.refTable}(${fk.refColumns.join(', ')})`;
      if (!h) {
        out.push(`missing foreign key ${fk.name} ${describe}`);
        continue;
      }
      if (h.name !== fk.name) out.push(`foreign key ${describe} is named ${h.name ?? '(unnamed)'}, Prisma names it ${fk.name}`);
      if (h.refTable !== fk.refTable || h.refColumns.join() !== fk.refColumns.join()) out.push(`foreign key ${fk.name} references ${h.refTable}(${h.refColumns.join(', ')}), schema says ${describe}`);
      if (h.onDelete !== fk.onDelete) out.push(`foreign key ${fk.name} is ON DELETE ${h.onDelete}, schema says ${fk.onDelete}`);
      if (h.onUpdate !== fk.onUpdate) out.push(`foreign key ${fk.name} is ON UPDATE ${h.onUpdate}, schema says ${fk.onUpdate}`);
    }
    for (const h of have.foreignKeys) {
      if (!want.foreignKeys.some((fk) => fk.columns.join() === h.columns.join())) out.push(`extra foreign key ${h.name ?? ''} on ${want.name}(${h.columns.join(', ')})`);
    }
  }
  return out;
}
