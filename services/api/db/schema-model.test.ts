import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Prisma } from '../../../prisma/generated/sqlite/client.js';
import { PACKAGE_ROOT } from './paths.js';
import { parseSchema } from './schema-model.js';

const text = readFileSync(join(PACKAGE_ROOT, 'prisma', 'schema.prisma'), 'utf8');

describe('parseSchema', () => {
  const model = parseSchema(text);

  it('sees the same models and scalar fields as Prisma (the generated client)', () => {
    expect(model.provider).toBe('sqlite');
    expect(model.tables.map((t) => t.name).sort()).toEqual(Object.values(Prisma.ModelName).sort());
    const ns = Prisma as unknown as Record<string, Record<string, string>>;
    for (const t of model.tables) {
      expect(t.columns.map((c) => c.name), t.name).toEqual(Object.values(ns[`${t.name}ScalarFieldEnum`]!));
    }
  });

  it('reads types, optionality, defaults, keys, indexes and relations', () => {
    const vm = model.tables.find((t) => t.name === 'Vm')!;
    expect(vm.primaryKey).toEqual(['id']);
    expect(vm.columns.find((c) => c.name === 'templateId')).toEqual({ name: 'templateId', type: 'String', nullable: true, dbDefault: null });
    expect(vm.columns.find((c) => c.name === 'state')).toMatchObject({ nullable: false, dbDefault: "'creating'" });
    expect(vm.columns.find((c) => c.name === 'createdAt')).toMatchObject({ dbDefault: 'CURRENT_TIMESTAMP' });
    expect(model.tables.find((t) => t.name === 'Container')!.columns.find((c) => c.name === 'oomKilled')).toMatchObject({ dbDefault: 'false' });
    expect(vm.columns.find((c) => c.name === 'id')).toMatchObject({ dbDefault: null }); // uuid(7) is made by the client
    expect(vm.indexes).toEqual(
      expect.arrayContaining([
        { name: 'Vm_domainName_key', columns: ['domainName'], unique: true },
        { name: 'Vm_tenantId_state_idx', columns: ['tenantId', 'state'], unique: false },
      ]),
    );
    expect(vm.foreignKeys.find((f) => f.name === 'Vm_templateId_fkey')).toEqual({
      name: 'Vm_templateId_fkey',
      columns: ['templateId'],
      refTable: 'Template',
      refColumns: ['id'],
      onDelete: 'SET NULL',
      onUpdate: 'CASCADE',
    });
  });

  it('applies Prisma\'s default referential actions', () => {
    const m = parseSchema(`datasource db { provider = "sqlite" }
      model A { id String @id
        bs B[] }
      model B { id String @id
        aId String
        a A @relation(fields: [aId], references: [id])
        optId String?
        opt A? @relation("o", fields: [optId], references: [id]) }`);
    const b = m.tables.find((t) => t.name === 'B')!;
    expect(b.foreignKeys.map((f) => [f.name, f.onDelete, f.onUpdate])).toEqual([
      ['B_aId_fkey', 'RESTRICT', 'CASCADE'],
      ['B_optId_fkey', 'SET NULL', 'CASCADE'],
    ]);
  });

  it('reads a composite primary key (@@id) and refuses two', () => {
    const base = 'datasource db { provider = "sqlite" }\n';
    expect(parseSchema(`${base}model A { a String\n b String\n @@id([a, b]) }`).tables[0]!.primaryKey).toEqual(['a', 'b']);
    expect(model.tables.find((t) => t.name === 'NetworkAddress')!.primaryKey).toEqual(['networkId', 'address']);
    expect(() => parseSchema(`${base}model A { a String @id\n b String\n @@id([a, b]) }`)).toThrow(/not supported/);
    expect(() => parseSchema(`${base}model A { a String @id\n b String @id }`)).toThrow(/several @id/);
  });

  it('rejects what it does not understand instead of misreading it', () => {
    const base = 'datasource db { provider = "sqlite" }\n';
    expect(() => parseSchema(`${base}model A { id String @id @map("_id") }`)).toThrow(/@map/);
    expect(() => parseSchema(`${base}model A { id String @id\n @@map("a") }`)).toThrow(/not supported/);
    expect(() => parseSchema(`${base}enum E { X }`)).toThrow(/enum E/);
    expect(() => parseSchema(`${base}model A { id String @id\n x Decimal2 }`)).toThrow(/type Decimal2/);
  });
});
