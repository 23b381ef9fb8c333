// Test support: a PostgreSQL to run the data layer's tests against.
// - FORKD_TEST_POSTGRES_URL set: that server, in a fresh schema dropped afterwards.
// - else, where Debian's server is installed (/usr/lib/postgresql/<v>/bin):
//   a private cluster in a temp dir (initdb, then pg_ctl; as the `postgres`
//   user when running as root, because initdb refuses root), listening only on
//   a unix socket in that dir; stopped and removed afterwards.
// - else: a reason to skip.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface TestPostgres {
  /** A DATABASE_URL for an empty database. */
  readonly url: string;
  /** A DATABASE_URL for another empty database (or schema) on the same server. */
  freshDatabase(): Promise<string>;
  stop(): Promise<void>;
}

export type TestPostgresResult = { readonly pg: TestPostgres } | { readonly skip: string };

export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

export async function startTestPostgres(): Promise<TestPostgresResult> {
  const external = process.env.FORKD_TEST_POSTGRES_URL;
  if (external) return { pg: await externalServer(external) };
  const bin = findPostgresBin();
  if (!bin) return { skip: 'no PostgreSQL server here (/usr/lib/postgresql/*/bin/postgres) and FORKD_TEST_POSTGRES_URL is unset' };
  return { pg: await privateServer(bin) };
}

async function externalServer(base: string): Promise<TestPostgres> {
  const schemas: string[] = [];
  const fresh = async (): Promise<string> => {
    const schema = `forkd_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    const u = new URL(base);
    u.searchParams.set('schema', schema);
    return u.toString();
  };
  return {
    url: await fresh(),
    freshDatabase: fresh,
    async stop() {
      const u = new URL(base);
      u.searchParams.delete('schema');
      const client = new pg.Client({ connectionString: u.toString() });
      await client.connect();
      try {
        for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

async function privateServer(bin: string): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'forkd-pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  // initdb refuses to run as root: hand the dir to the postgres user.
  const as = async (cmd: string, args: string[]): Promise<void> => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    await run(file, argv, { cwd: dir, timeout: 60_000 });
  };
  let started = false;
  try {
    if (asRoot) {
      const pw = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
      if (!pw) throw new Error('running as root and there is no postgres user to run the server as');
      const [, , uid, gid] = pw.split(':');
      chownSync(dir, Number(uid), Number(gid));
    }
    await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    // Unix socket in the private dir only; fsync off: a test cluster.
    await as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', `-c listen_addresses='' -k ${dir} -p 5432 -c fsync=off`, 'start']);
    started = true;
  } catch (err) {
    if (started) await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a private PostgreSQL in ${dir}: ${(err as Error).message}\n${log}`, { cause: err });
  }
  const urlFor = (db: string): string => `postgresql://postgres@localhost/${db}?host=${encodeURIComponent(dir)}`;
  let n = 0;
  const fresh = async (): Promise<string> => {
    const name = `forkd_test_${++n}`;
    const client = new pg.Client({ connectionString: urlFor('postgres') });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return urlFor(name);
  };
  return {
    url: await fresh(),
    freshDatabase: fresh,
    async stop() {
      try {
        await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
