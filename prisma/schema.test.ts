// The PostgreSQL schema and migrations stay in step with the SQLite ones.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { derivePostgresSchema } from './derive.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const read = (...p: string[]): string => readFileSync(join(here, ...p), 'utf8');
const migrationNames = (dir: string): string[] =>
  readdirSync(join(here, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

describe('prisma/', () => {
  it('postgresql/schema.prisma is derived from schema.prisma (run `node prisma/generate.mjs`)', () => {
    expect(read('postgresql', 'schema.prisma')).toBe(derivePostgresSchema(read('schema.prisma')));
  });

  it('both providers have the same migrations, each locked to its provider', () => {
    expect(migrationNames('postgresql/migrations')).toEqual(migrationNames('migrations'));
    expect(read('migrations', 'migration_lock.toml')).toMatch(/^provider = "sqlite"$/m);
    expect(read('postgresql', 'migrations', 'migration_lock.toml')).toMatch(/^provider = "postgresql"$/m);
  });

  it('the derivation changes only the provider and the client output', () => {
    const derived = derivePostgresSchema(read('schema.prisma'));
    expect(derived).toMatch(/provider = "postgresql"/);
    expect(derived).toMatch(/output\s+= "..\/generated\/postgresql"/);
    expect(() => derivePostgresSchema('model A { id String @id }')).toThrow(/expected datasource/);
  });
});
