import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { checksumOf, planMigrations, readMigrations, type MigrationFile, type MigrationRow } from './migrations.js';
import { migrationsDir } from './paths.js';

const file = (name: string, sql = `-- ${name}\n`): MigrationFile => ({ name, sql, checksum: checksumOf(sql) });
const row = (f: MigrationFile, over: Partial<MigrationRow> = {}): MigrationRow => ({
  id: `id-${f.name}`,
  checksum: f.checksum,
  finishedAt: new Date(),
  migrationName: f.name,
  logs: null,
  rolledBackAt: null,
  startedAt: new Date(),
  appliedStepsCount: 1,
  ...over,
});
const refusal = (fn: () => unknown): ForkdError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ForkdError);
    return err as ForkdError;
  }
  throw new Error('expected a refusal');
};

describe('planMigrations', () => {
  const a = file('20260101000000_a');
  const b = file('20260201000000_b');
  const c = file('20260301000000_c');

  it('returns what is not applied yet, in order', () => {
    expect(planMigrations([a, b, c], []).map((m) => m.name)).toEqual([a.name, b.name, c.name]);
    expect(planMigrations([a, b, c], [row(a)]).map((m) => m.name)).toEqual([b.name, c.name]);
    expect(planMigrations([a, b, c], [row(a), row(b), row(c)])).toEqual([]);
  });

  it('ignores attempts marked rolled back', () => {
    expect(planMigrations([a, b], [row(a), row(b, { finishedAt: null, rolledBackAt: new Date(), checksum: 'old' })]).map((m) => m.name)).toEqual([b.name]);
  });

  it('refuses after a failed migration', () => {
    const e = refusal(() => planMigrations([a, b], [row(a), row(b, { finishedAt: null, logs: 'syntax error' })]));
    expect(e.detail).toEqual({ migration: b.name, problem: 'failed' });
    expect(e.message).toMatch(/migrate resolve --rolled-back 20260201000000_b/);
    expect(e.message).toMatch(/syntax error/);
  });

  it('refuses a modified migration', () => {
    const e = refusal(() => planMigrations([a, b], [row(a, { checksum: checksumOf('something else') })]));
    expect(e.detail).toEqual({ migration: a.name, problem: 'checksum' });
  });

  it('refuses a database with migrations it does not know', () => {
    const e = refusal(() => planMigrations([a], [row(a), row(b)]));
    expect(e.detail).toEqual({ migration: b.name, problem: 'unknown' });
  });
});

describe('readMigrations', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'forkd-migrations-'));
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('reads the committed folders of both providers with sha256 checksums', () => {
    for (const kind of ['sqlite', 'postgresql'] as const) {
      const files = readMigrations(migrationsDir(kind), kind);
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) {
        expect(f.name).toMatch(/^\d{14}_[a-z0-9_]+$/);
        expect(f.checksum).toBe(checksumOf(Buffer.from(f.sql, 'utf8')));
      }
    }
  });

  it('refuses a folder for another provider', () => {
    expect(() => readMigrations(migrationsDir('postgresql'), 'sqlite')).toThrow(/provider "postgresql", not sqlite/);
  });

  it('refuses a migration folder without migration.sql', () => {
    writeFileSync(join(tmp, 'migration_lock.toml'), 'provider = "sqlite"\n');
    mkdirSync(join(tmp, '20260101000000_empty'));
    expect(() => readMigrations(tmp, 'sqlite')).toThrow(/has no migration.sql/);
  });
});
