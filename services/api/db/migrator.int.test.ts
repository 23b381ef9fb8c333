// Proves the migrations build exactly the database schema.prisma describes,
// on SQLite and on PostgreSQL (a private server when one is installed), that
// the migrator keeps Prisma's bookkeeping and refuses a database it does not
// agree with, and that the generated clients work on the result.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { openDatabase, type Database as ForkdDatabase } from './client.js';
import { parseDatabaseUrl, type DatabaseConfig, type PostgresConfig } from './database-url.js';
import { isUniqueViolation, toForkdError } from './errors.js';
import { introspectPostgres, introspectSqlite, type DbTable } from './introspect.js';
import { migrate } from './migrator.js';
import { checksumOf } from './migrations.js';
import { migrationsDir, PACKAGE_ROOT } from './paths.js';
import { diffSchema } from './schema-diff.js';
import { parseSchema } from './schema-model.js';
import { startTestPostgres, type TestPostgres } from './test-postgres.js';

const schema = parseSchema(readFileSync(join(PACKAGE_ROOT, 'prisma', 'schema.prisma'), 'utf8'));
const pgSchema = parseSchema(readFileSync(join(PACKAGE_ROOT, 'prisma', 'postgresql', 'schema.prisma'), 'utf8'));

interface Engine {
  readonly kind: 'sqlite' | 'postgresql';
  /** A DATABASE_URL for an empty database. */
  fresh(): Promise<string>;
  introspect(config: DatabaseConfig): Promise<DbTable[]>;
  /** Runs SQL on the database outside the migrator (to tamper with it). */
  sql(config: DatabaseConfig, text: string): Promise<unknown[]>;
}

// Made in beforeAll, not at import: vitest skips the hooks when a filter
// leaves no test to run here, and the folder must not outlive the run.
let tmp = '';
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'forkd-db-test-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});
let seq = 0;

const sqlite: Engine = {
  kind: 'sqlite',
  fresh: async () => `file:${join(tmp, `db-${++seq}`, 'forkd.db')}`,
  introspect: async (c) => introspectSqlite((c as { file: string }).file),
  sql: async (c, text) => {
    const db = new Database((c as { file: string }).file);
    try {
      const stmt = db.prepare(text);
      return stmt.reader ? stmt.all() : (stmt.run(), []);
    } finally {
      db.close();
    }
  },
};

let server: TestPostgres | undefined;
let pgSkip: string | undefined;
const postgres: Engine = {
  kind: 'postgresql',
  fresh: () => server!.freshDatabase(),
  introspect: (c) => introspectPostgres(c as PostgresConfig),
  sql: async (c, text) => {
    const client = new pg.Client({ connectionString: (c as PostgresConfig).url });
    await client.connect();
    try {
      await client.query(`SET search_path TO "${(c as PostgresConfig).schema}"`);
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  },
};

beforeAll(async () => {
  const r = await startTestPostgres();
  if ('pg' in r) server = r.pg;
  else {
    pgSkip = r.skip;
    console.warn(`PostgreSQL tests skipped: ${r.skip}`);
  }
});
afterAll(async () => {
  await server?.stop();
});

function suite(engine: Engine, model: typeof schema): void {
  const open = async (url: string, extra: { migrationsDir?: string } = {}): Promise<ForkdDatabase> => openDatabase({ url, ...extra });

  it('migrates an empty database to exactly the schema in schema.prisma', async (ctx) => {
    if (engine.kind === 'postgresql' && pgSkip) ctx.skip(pgSkip);
    const url = await engine.fresh();
    const config = parseDatabaseUrl({ url });
    const result = await migrate(config);
    expect(result.applied.length).toBeGreaterThan(0);
    expect(result.applied).toEqual(result.all);
    const tables = await engine.introspect(config);
    expect(diffSchema(engine.kind, model, tables)).toEqual([]);
    // Nothing beyond the schema's tables and Prisma's bookkeeping.
    expect(tables.map((t) => t.name).sort()).toEqual([...model.tables.map((t) => t.name), '_prisma_migrations'].sort());
  });

  it('keeps _prisma_migrations as Prisma does, and a second run is a no-op', async (ctx) => {
    if (engine.kind === 'postgresql' && pgSkip) ctx.skip(pgSkip);
    const config = parseDatabaseUrl({ url: await engine.fresh() });
    const first = await migrate(config);
    const rows = (await engine.sql(config, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name')) as Record<string, unknown>[];
    expect(rows.map((r) => r.migration_name)).toEqual(first.all);
    for (const r of rows) {
      const file = readFileSync(join(migrationsDir(engine.kind), String(r.migration_name), 'migration.sql'));
      expect(r.checksum).toBe(checksumOf(file));
      expect(r.finished_at).not.toBeNull();
      expect(r.rolled_back_at).toBeNull();
      expect(r.logs).toBeNull();
      expect(Number(r.applied_steps_count)).toBe(1);
      expect(String(r.id)).toMatch(/^[0-9a-f-]{36}$/);
    }
    const second = await migrate(config);
    expect(second.applied).toEqual([]);
    const again = (await engine.sql(config, 'SELECT id FROM "_prisma_migrations"')) as unknown[];
    expect(again).toHaveLength(rows.length);
  });

  it('refuses a database whose applied migration was modified', async (ctx) => {
    if (engine.kind === 'postgresql' && pgSkip) ctx.skip(pgSkip);
    const dir = join(tmp, `migrations-${++seq}`);
    cpSync(migrationsDir(engine.kind), dir, { recursive: true });
    const config = parseDatabaseUrl({ url: await engine.fresh() });
    const { all } = await migrate(config, { migrationsDir: dir });
    // Edit an applied migration.sql on disk (even a comment changes its checksum).
    const file = join(dir, all[0]!, 'migration.sql');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- edited\n`);
    const err = await migrate(config, { migrationsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForkdError);
    expect((err as ForkdError).code).toBe('ERR_DATABASE');
    expect((err as ForkdError).message).toMatch(/was modified after it was applied/);
    expect((err as ForkdError).detail).toMatchObject({ problem: 'checksum', migration: all[0] });
    // And the other way round: a tampered checksum in the bookkeeping.
    const other = parseDatabaseUrl({ url: await engine.fresh() });
    await migrate(other);
    await engine.sql(other, `UPDATE "_prisma_migrations" SET checksum = '${'0'.repeat(64)}'`);
    await expect(migrate(other)).rejects.toMatchObject({ code: 'ERR_DATABASE', detail: { problem: 'checksum' } });
  });

  it('lets concurrent migrators race: each migration is applied exactly once', async (ctx) => {
    if (engine.kind === 'postgresql' && pgSkip) ctx.skip(pgSkip);
    const config = parseDatabaseUrl({ url: await engine.fresh() });
    const results = await Promise.all([migrate(config), migrate(config), migrate(config)]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual([...results[0]!.all].sort());
    const rows = (await engine.sql(config, 'SELECT migration_name FROM "_prisma_migrations"')) as unknown[];
    expect(rows).toHaveLength(results[0]!.all.length);
    expect(diffSchema(engine.kind, model, await engine.introspect(config))).toEqual([]);
  });

  it('rolls back a failing migration, records it as failed, and refuses to go on until it is resolved', async (ctx) => {
    if (engine.kind === 'postgresql' && pgSkip) ctx.skip(pgSkip);
    const dir = join(tmp, `migrations-${++seq}`);
    cpSync(migrationsDir(engine.kind), dir, { recursive: true });
    // Half works, then fails: the transaction must take the half back.
    const bad = join(dir, '29990101000000_broken');
    mkdirSync(bad);
    writeFileSync(join(bad, 'migration.sql'), 'CREATE TABLE "Half" ("id" TEXT NOT NULL PRIMARY KEY);\nSELECT * FROM "NoSuchTable";\n');
    const config = parseDatabaseUrl({ url: await engine.fresh() });
    const err = (await migrate(config, { migrationsDir: dir }).catch((e: unknown) => e)) as ForkdError;
    expect(err.code).toBe('ERR_DATABASE');
    expect(err.message).toMatch(/29990101000000_broken failed and was rolled back/);
    const tables = (await engine.introspect(config)).map((t) => t.name);
    expect(tables).not.toContain('Half');
    expect(tables).toContain('Tenant');
    const failed = (await engine.sql(config, `SELECT * FROM "_prisma_migrations" WHERE migration_name = '29990101000000_broken'`)) as Record<string, unknown>[];
    expect(failed).toHaveLength(1);
    expect(failed[0]!.finished_at).toBeNull();
    expect(String(failed[0]!.logs)).toMatch(/NoSuchTable/i);
    const again = (await migrate(config, { migrationsDir: dir }).catch((e: unknown) => e)) as ForkdError;
    expect(again.message).toMatch(/failed earlier/);
    // Resolved as Prisma does (rolled back), with the migration fixed: it applies.
    await engine.sql(config, `UPDATE "_prisma_migrations" SET rolled_back_at = started_at WHERE migration_name = '29990101000000_broken'`);
    writeFileSync(join(bad, 'migration.sql'), 'CREATE TABLE "Half" ("id" TEXT NOT NULL PRIMARY KEY);\n');
    const fixed = await migrate(config, { migrationsDir: dir });
    expect(fixed.applied).toEqual(['29990101000000_broken']);
  });

  it('refuses a database migrated by a newer forkd', async (ctx) => {
    if (engine.kind === 'postgresql' && pgSkip) ctx.skip(pgSkip);
    const config = parseDatabaseUrl({ url: await engine.fresh() });
    await migrate(config);
    await engine.sql(
      config,
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ('00000000-0000-4000-8000-000000000000', '${'a'.repeat(64)}', ${engine.kind === 'sqlite' ? '1' : 'now()'}, '29990101000000_future', ${engine.kind === 'sqlite' ? '1' : 'now()'}, 1)`,
    );
    const err = (await migrate(config).catch((e: unknown) => e)) as ForkdError;
    expect(err.code).toBe('ERR_DATABASE');
    expect(err.detail).toMatchObject({ problem: 'unknown', migration: '29990101000000_future' });
  });

  it('serves the models through the generated client and enforces the constraints', async (ctx) => {
    if (engine.kind === 'postgresql' && pgSkip) ctx.skip(pgSkip);
    const db = await open(await engine.fresh());
    try {
      expect(db.kind).toBe(engine.kind);
      const p = db.prisma;
      const tenant = await p.tenant.create({ data: { name: 'acme', maxVms: 3 } });
      const host = await p.host.create({
        data: { id: 'host-a', name: 'host-a', address: '127.0.0.1', accel: 'tcg', cpus: 2, memoryMib: 4096, libvirtVersion: '9.0.0', qemuVersion: '7.2.0' },
      });
      const image = await p.image.create({
        data: {
          tenantId: tenant.id,
          digest: 'sha256:' + 'ab'.repeat(32),
          sizeBytes: 5n * 1024n ** 3n,
          layers: [{ digest: 'sha256:' + 'cd'.repeat(32), sizeBytes: 1 }],
          config: { Cmd: ['sh'] },
          tags: { create: { tenantId: tenant.id, name: 'alpine', tag: 'latest' } },
        },
      });
      const template = await p.template.create({
        data: { hostId: host.id, imageId: image.id, vcpus: 1, memoryMib: 256, accel: 'tcg', qemuVersion: '7.2.0', machineType: 'pc-i440fx-7.2' },
      });
      const vm = await p.vm.create({
        data: { tenantId: tenant.id, hostId: host.id, templateId: template.id, domainName: 'forkd-vm-1', vcpus: 1, memoryMib: 256, mac: '52:54:00:00:00:01', bootMode: 'fork' },
      });
      await p.container.create({ data: { tenantId: tenant.id, vmId: vm.id, imageId: image.id, name: 'web', command: ['sh', '-c', 'echo hi'], env: ['A=1'] } });
      await p.apiKey.create({ data: { tenantId: tenant.id, role: 'tenant', prefix: 'fk_abc', hash: 'f'.repeat(64) } });
      await p.operation.create({ data: { tenantId: tenant.id, hostId: host.id, kind: 'vm.create', targetId: vm.id, input: { vcpus: 1 } } });

      const read = await p.tenant.findUniqueOrThrow({
        where: { name: 'acme' },
        include: { vms: { include: { containers: true, template: true } }, images: { include: { tags: true } }, apiKeys: true, operations: true },
      });
      expect(read.maxVms).toBe(3);
      expect(read.vms[0]!.state).toBe('creating');
      expect(read.vms[0]!.template!.state).toBe('building');
      expect(read.vms[0]!.containers[0]!.command).toEqual(['sh', '-c', 'echo hi']);
      expect(read.vms[0]!.containers[0]!.oomKilled).toBe(false);
      expect(read.images[0]!.sizeBytes).toBe(5n * 1024n ** 3n);
      expect(read.images[0]!.tags[0]!.tag).toBe('latest');
      expect(read.operations[0]!.state).toBe('queued');
      expect(read.vms[0]!.createdAt).toBeInstanceOf(Date);
      expect(await p.vm.count({ where: { hostId: host.id, state: { not: 'gone' } } })).toBe(1);

      // Uniques and foreign keys are real constraints, not just client checks.
      // toForkdError turns them into the catalogue's codes on both engines.
      const dupMac = await p.vm
        .create({ data: { tenantId: tenant.id, hostId: host.id, domainName: 'forkd-vm-2', vcpus: 1, memoryMib: 256, mac: '52:54:00:00:00:01', bootMode: 'cold' } })
        .catch((e: unknown) => e);
      expect(isUniqueViolation(dupMac, 'mac')).toBe(true);
      expect(isUniqueViolation(dupMac, 'domainName')).toBe(false);
      expect(toForkdError(dupMac)).toMatchObject({ code: 'ERR_CONFLICT', detail: { fields: ['mac'] } });
      const dupImage = await p.image.create({ data: { tenantId: tenant.id, digest: image.digest, sizeBytes: 1n, layers: [], config: {} } }).catch((e: unknown) => e);
      expect(toForkdError(dupImage)).toMatchObject({ code: 'ERR_CONFLICT', detail: { fields: ['tenantId', 'digest'] } });
      const inUse = await p.tenant.delete({ where: { id: tenant.id } }).catch((e: unknown) => e);
      expect(toForkdError(inUse).code).toBe('ERR_CONFLICT');
      const missing = await p.vm.update({ where: { id: 'no-such-vm' }, data: { state: 'gone' } }).catch((e: unknown) => e);
      expect(toForkdError(missing).code).toBe('ERR_NOT_FOUND');
      // Cascades: a VM's containers go with it; an image's tags go with it.
      await p.vm.delete({ where: { id: vm.id } });
      expect(await p.container.count()).toBe(0);
    } finally {
      await db.close();
    }
  });
}

describe('SQLite', () => suite(sqlite, schema));
describe('PostgreSQL', () => suite(postgres, pgSchema));

describe('PostgreSQL schemas', () => {
  it('honours ?schema= in the migrator and the client, as Prisma does', async (ctx) => {
    if (pgSkip) ctx.skip(pgSkip);
    // base: an empty database (or, on FORKD_TEST_POSTGRES_URL, an empty schema).
    const base = parseDatabaseUrl({ url: await server!.freshDatabase() }) as PostgresConfig;
    const alt = `forkd_alt_${Date.now().toString(36)}`;
    const u = new URL(base.url);
    u.searchParams.set('schema', alt);
    try {
      const db = await openDatabase({ url: u.toString() });
      try {
        await db.prisma.tenant.create({ data: { name: 'in-alt' } });
        expect(await db.prisma.tenant.count()).toBe(1);
      } finally {
        await db.close();
      }
      expect(diffSchema('postgresql', pgSchema, await introspectPostgres({ ...base, schema: alt }))).toEqual([]);
      expect(await introspectPostgres(base)).toEqual([]);
    } finally {
      await postgres.sql(base, `DROP SCHEMA IF EXISTS "${alt}" CASCADE`);
    }
  });
});

describe('PostgreSQL privileges', () => {
  it('migrates and serves as a user that may not create schemas (a typical managed-database role)', async (ctx) => {
    if (pgSkip) ctx.skip(pgSkip);
    if (process.env.FORKD_TEST_POSTGRES_URL) ctx.skip('needs a private server to create roles');
    const admin = parseDatabaseUrl({ url: await server!.freshDatabase() }) as PostgresConfig;
    const role = `forkd_app_${Date.now().toString(36)}`;
    const db = new URL(admin.url).pathname.slice(1);
    await postgres.sql(admin, `CREATE ROLE ${role} LOGIN`);
    await postgres.sql(admin, `REVOKE CREATE ON DATABASE ${db} FROM PUBLIC`);
    await postgres.sql(admin, `GRANT USAGE, CREATE ON SCHEMA public TO ${role}`);
    const u = new URL(admin.url);
    u.username = role;
    const opened = await openDatabase({ url: u.toString() });
    try {
      await opened.prisma.tenant.create({ data: { name: 'least-privilege' } });
      expect(await opened.prisma.tenant.count()).toBe(1);
    } finally {
      await opened.close();
    }
  });
});

describe('schema check', () => {
  it('notices a missing index, an extra table and a changed column', async () => {
    const config = parseDatabaseUrl({ url: await sqlite.fresh() });
    await migrate(config);
    await sqlite.sql(config, 'DROP INDEX "Vm_mac_key"');
    await sqlite.sql(config, 'CREATE TABLE "Stray" ("id" TEXT)');
    await sqlite.sql(config, 'ALTER TABLE "Host" ADD COLUMN "extra" TEXT');
    const diff = diffSchema('sqlite', schema, await sqlite.introspect(config));
    expect(diff).toEqual(expect.arrayContaining([expect.stringMatching(/missing unique index Vm_mac_key/), 'extra table Stray', 'extra column Host.extra']));
  });
});
