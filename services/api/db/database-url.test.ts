import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { openDatabase } from './client.js';
import { parseDatabaseUrl } from './database-url.js';
import { PACKAGE_ROOT } from './paths.js';

function configError(fn: () => unknown): ForkdError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ForkdError);
    expect((err as ForkdError).code).toBe('ERR_CONFIG');
    expect((err as ForkdError).field).toBe('DATABASE_URL');
    return err as ForkdError;
  }
  throw new Error('expected ERR_CONFIG');
}

describe('parseDatabaseUrl', () => {
  it('defaults to SQLite at <data dir>/forkd.db', () => {
    expect(parseDatabaseUrl({})).toEqual({ kind: 'sqlite', file: join(PACKAGE_ROOT, 'var', 'forkd.db') });
    expect(parseDatabaseUrl({ url: '' })).toEqual({ kind: 'sqlite', file: join(PACKAGE_ROOT, 'var', 'forkd.db') });
    expect(parseDatabaseUrl({ url: '  ', dataDir: '/srv/forkd' })).toEqual({ kind: 'sqlite', file: '/srv/forkd/forkd.db' });
  });

  it('reads file: URLs, relative to the working directory', () => {
    expect(parseDatabaseUrl({ url: 'file:/var/lib/forkd/x.db' })).toEqual({ kind: 'sqlite', file: '/var/lib/forkd/x.db' });
    expect(parseDatabaseUrl({ url: 'file:///var/lib/forkd/x.db' })).toEqual({ kind: 'sqlite', file: '/var/lib/forkd/x.db' });
    expect(parseDatabaseUrl({ url: 'file:./var/forkd.db', cwd: '/repo' })).toEqual({ kind: 'sqlite', file: '/repo/var/forkd.db' });
    expect(parseDatabaseUrl({ url: 'file:var/forkd.db?connection_limit=1', cwd: '/repo' })).toEqual({ kind: 'sqlite', file: '/repo/var/forkd.db' });
  });

  it('reads postgresql:// and postgres:// URLs, with Prisma\'s ?schema=', () => {
    const c = parseDatabaseUrl({ url: 'postgresql://forkd:s3cret@db.example:5433/forkd?schema=tenant_a&sslmode=require' });
    expect(c).toEqual({
      kind: 'postgresql',
      url: 'postgresql://forkd:s3cret@db.example:5433/forkd?sslmode=require',
      schema: 'tenant_a',
      redacted: 'postgresql://forkd:****@db.example:5433/forkd?schema=tenant_a&sslmode=require',
    });
    expect(parseDatabaseUrl({ url: 'postgres://u@localhost/forkd' })).toMatchObject({ kind: 'postgresql', schema: 'public' });
    // A unix socket directory through ?host=, as node-postgres reads it.
    expect(parseDatabaseUrl({ url: 'postgresql:///forkd?host=%2Fvar%2Frun%2Fpostgresql' })).toMatchObject({ kind: 'postgresql' });
  });

  it('refuses anything else with ERR_CONFIG naming DATABASE_URL', () => {
    expect(configError(() => parseDatabaseUrl({ url: 'mysql://x' })).message).toMatch(/unsupported scheme "mysql:"/);
    expect(configError(() => parseDatabaseUrl({ url: 'not a url' })).message).toMatch(/not a URL/);
    expect(configError(() => parseDatabaseUrl({ url: 'postgresql://' })).message).toMatch(/no PostgreSQL host/);
    expect(configError(() => parseDatabaseUrl({ url: 'postgresql://u:p@/forkd' })).message).toMatch(/no PostgreSQL host|malformed/);
    expect(configError(() => parseDatabaseUrl({ url: 'postgresql://h:99999/x' })).message).toMatch(/malformed|port/);
    expect(configError(() => parseDatabaseUrl({ url: 'postgresql://h/x?schema=a;drop' })).message).toMatch(/invalid schema/);
    expect(configError(() => parseDatabaseUrl({ url: 'file:' })).message).toMatch(/names no file/);
    expect(configError(() => parseDatabaseUrl({ url: 'file::memory:' })).message).toMatch(/memory/);
    expect(configError(() => parseDatabaseUrl({ url: 'file://otherhost/x.db' })).message).toMatch(/another host/);
    expect(configError(() => parseDatabaseUrl({ url: 'sqlite:x.db' })).message).toMatch(/unsupported scheme/);
  });

  it('never puts a password in an error', () => {
    const err = configError(() => parseDatabaseUrl({ url: 'postgresql://u:hunter2@/x' }));
    expect(err.message).not.toContain('hunter2');
  });
});

describe('openDatabase with a malformed DATABASE_URL', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'forkd-dburl-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['mysql://x', 'not a url', 'postgresql://', 'file:/nonexistent-forkd/'])('%s: ERR_CONFIG, nothing created', async (url) => {
    const err = (await openDatabase({ url, dataDir: join(dir, 'data') }).catch((e: unknown) => e)) as ForkdError;
    expect(err).toBeInstanceOf(ForkdError);
    expect([err.code, err.field]).toEqual(['ERR_CONFIG', 'DATABASE_URL']);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync('/nonexistent-forkd')).toBe(false);
  });
});
