// Reads prisma/schema.prisma into the tables, columns, indexes and foreign
// keys that Prisma Migrate would create for it, so tests can prove that the
// migrated database matches the schema. A small parser for the subset of the
// Prisma language forkd's schema uses; anything outside it (@map, @@map,
// @db.*, enums, composite types) is rejected rather than misread, so
// using such a feature means extending this file first. A composite primary
// key (@@id([a, b])) is read as Prisma writes it: <Model>_pkey over a, b.
// (Prisma's own getDMMF lives in @prisma/internals, which forkd does not ship;
// the generated client's runtime data model has no nullability or indexes.
// schema-model.test.ts checks this parser against that data model.)

export type ScalarType = 'String' | 'Int' | 'BigInt' | 'Float' | 'Decimal' | 'Boolean' | 'DateTime' | 'Json' | 'Bytes';
export type ReferentialAction = 'CASCADE' | 'RESTRICT' | 'SET NULL' | 'NO ACTION' | 'SET DEFAULT';

const SCALARS: ReadonlySet<string> = new Set(['String', 'Int', 'BigInt', 'Float', 'Decimal', 'Boolean', 'DateTime', 'Json', 'Bytes']);
const ACTIONS: Record<string, ReferentialAction> = {
  Cascade: 'CASCADE',
  Restrict: 'RESTRICT',
  SetNull: 'SET NULL',
  NoAction: 'NO ACTION',
  SetDefault: 'SET DEFAULT',
};

export interface ModelColumn {
  readonly name: string;
  readonly type: ScalarType;
  readonly nullable: boolean;
  /**
   * The default the database holds, as SQL (`'up'`, `0`, `false`,
   * `CURRENT_TIMESTAMP`), or null: uuid()/cuid() are made by the client.
   */
  readonly dbDefault: string | null;
}

export interface ModelIndex {
  /** Prisma's name: <Model>_<col>_<col>_key for unique, _idx otherwise. */
  readonly name: string;
  readonly columns: readonly string[];
  readonly unique: boolean;
}

export interface ModelForeignKey {
  /** Prisma's name: <Model>_<col>_fkey. */
  readonly name: string;
  readonly columns: readonly string[];
  readonly refTable: string;
  readonly refColumns: readonly string[];
  readonly onDelete: ReferentialAction;
  readonly onUpdate: ReferentialAction;
}

export interface ModelTable {
  readonly name: string;
  readonly columns: readonly ModelColumn[];
  readonly primaryKey: readonly string[];
  readonly indexes: readonly ModelIndex[];
  readonly foreignKeys: readonly ModelForeignKey[];
}

export interface SchemaModel {
  readonly provider: string;
  readonly tables: readonly ModelTable[];
}

interface RawField {
  name: string;
  type: string;
  optional: boolean;
  list: boolean;
  attrs: string;
}

export function parseSchema(text: string): SchemaModel {
  const src = stripComments(text);
  const provider = /datasource\s+\w+\s*\{[^}]*provider\s*=\s*"([^"]+)"/.exec(src)?.[1];
  if (!provider) throw new Error('schema: no datasource provider');
  for (const m of src.matchAll(/^\s*(enum|type|view)\s+(\w+)\s*\{/gm)) throw new Error(`schema: ${m[1]} ${m[2]} is not supported by schema-model.ts`);
  const blocks = [...src.matchAll(/^\s*model\s+(\w+)\s*\{([^}]*)\}/gm)].map((m) => ({ name: m[1]!, body: m[2]! }));
  const modelNames = new Set(blocks.map((b) => b.name));
  return { provider, tables: blocks.map((b) => parseModel(b.name, b.body, modelNames)) };
}

function parseModel(model: string, body: string, modelNames: ReadonlySet<string>): ModelTable {
  const fields: RawField[] = [];
  const blockAttrs: string[] = [];
  for (const line of body.split('\n').map((l) => l.trim()).filter(Boolean)) {
    if (line.startsWith('@@')) {
      blockAttrs.push(line);
      continue;
    }
    const m = /^(\w+)\s+(\w+)(\?|\[\])?\s*(.*)$/.exec(line);
    if (!m) throw new Error(`schema: cannot read "${line}" in model ${model}`);
    fields.push({ name: m[1]!, type: m[2]!, optional: m[3] === '?', list: m[3] === '[]', attrs: m[4] ?? '' });
  }
  const columns: ModelColumn[] = [];
  const primaryKey: string[] = [];
  const indexes: ModelIndex[] = [];
  const foreignKeys: ModelForeignKey[] = [];
  for (const f of fields) {
    if (/@map\b|@db\./.test(f.attrs)) throw new Error(`schema: ${model}.${f.name} uses @map/@db, which schema-model.ts does not support`);
    if (modelNames.has(f.type)) {
      const rel = /@relation\(([^)]*)\)/.exec(f.attrs)?.[1];
      const from = rel === undefined ? undefined : listArg(rel, 'fields');
      if (from === undefined) continue; // the other side of a relation: no column
      const onDelete = /onDelete:\s*(\w+)/.exec(rel!)?.[1];
      const onUpdate = /onUpdate:\s*(\w+)/.exec(rel!)?.[1];
      foreignKeys.push({
        name: `${model}_${from.join('_')}_fkey`,
        columns: from,
        refTable: f.type,
        refColumns: listArg(rel!, 'references') ?? [],
        // Prisma's defaults: Restrict when the relation is required, SetNull when optional; Cascade on update.
        onDelete: onDelete ? action(onDelete) : f.optional ? 'SET NULL' : 'RESTRICT',
        onUpdate: onUpdate ? action(onUpdate) : 'CASCADE',
      });
      continue;
    }
    if (!SCALARS.has(f.type)) throw new Error(`schema: ${model}.${f.name} has type ${f.type}, which schema-model.ts does not support`);
    if (f.list) throw new Error(`schema: ${model}.${f.name} is a scalar list, which SQLite cannot store`);
    const def = /@default\(((?:[^()]|\([^()]*\))*)\)/.exec(f.attrs)?.[1];
    columns.push({ name: f.name, type: f.type as ScalarType, nullable: f.optional, dbDefault: def === undefined ? null : sqlDefault(model, f.name, def) });
    if (/@id\b/.test(f.attrs)) primaryKey.push(f.name);
    if (/@unique\b/.test(f.attrs)) indexes.push({ name: `${model}_${f.name}_key`, columns: [f.name], unique: true });
  }
  if (primaryKey.length > 1) throw new Error(`schema: model ${model} has several @id fields (a composite key is @@id([...]))`);
  for (const a of blockAttrs) {
    const kind = /^@@(\w+)/.exec(a)![1];
    const cols = /^@@\w+\(\s*\[([^\]]*)\]/.exec(a)?.[1]?.split(',').map((c) => c.trim());
    if (kind === 'id' && cols !== undefined && !/\bname:|\bmap:/.test(a) && primaryKey.length === 0) {
      primaryKey.push(...cols);
      continue;
    }
    if ((kind !== 'unique' && kind !== 'index') || cols === undefined || /\bname:|\bmap:/.test(a)) {
      throw new Error(`schema: ${model} ${a} is not supported by schema-model.ts`);
    }
    indexes.push({ name: `${model}_${cols.join('_')}_${kind === 'unique' ? 'key' : 'idx'}`, columns: cols, unique: kind === 'unique' });
  }
  if (primaryKey.length === 0) throw new Error(`schema: model ${model} needs one @id field or one @@id([...])`);
  return { name: model, columns, primaryKey, indexes, foreignKeys };
}

/** The SQL Prisma Migrate writes for a @default(...) argument; null when the client makes the value. */
function sqlDefault(model: string, field: string, def: string): string | null {
  const d = def.trim();
  if (/^(uuid|cuid|nanoid|ulid)\(/.test(d)) return null;
  if (d === 'now()') return 'CURRENT_TIMESTAMP';
  if (/^"(?:[^"\\]|\\.)*"$/.test(d)) return `'${(JSON.parse(d) as string).replace(/'/g, "''")}'`;
  if (/^-?\d+(\.\d+)?$/.test(d) || d === 'true' || d === 'false') return d;
  throw new Error(`schema: ${model}.${field} has @default(${d}), which schema-model.ts does not support`);
}

function listArg(args: string, key: string): string[] | undefined {
  const m = new RegExp(`${key}:\\s*\\[([^\\]]*)\\]`).exec(args);
  return m ? m[1]!.split(',').map((s) => s.trim()) : undefined;
}

function action(name: string): ReferentialAction {
  const a = ACTIONS[name];
  if (!a) throw new Error(`schema: unknown referential action ${name}`);
  return a;
}

/** Drops // and /// comments outside string literals. */
function stripComments(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      let inString = false;
      for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (c === '"' && line[i - 1] !== '\\') inString = !inString;
        if (!inString && c === '/' && line[i + 1] === '/') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}
