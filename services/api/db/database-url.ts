// Reads DATABASE_URL into one of the two databases forkd supports. Pure: it
// creates nothing, so a malformed URL fails before any file or connection
// exists.
//
//   unset or empty           SQLite at ${FORKD_DATA_DIR ?? <repo>/var}/forkd.db
//   file:<path>              SQLite; a relative path is taken from the working
//                            directory (file:./x.db, file:x.db, file:/abs/x.db,
//                            file:///abs/x.db)
//   postgresql://… postgres://…  PostgreSQL through node-postgres; `?schema=`
//                            picks a schema other than `public`, as in Prisma
//   anything else            ForkdError ERR_CONFIG, field DATABASE_URL
import { isAbsolute, join, resolve } from 'node:path';
import { ForkdError } from '../../contracts/errors.js';
import { PACKAGE_ROOT } from './paths.js';

export type DatabaseKind = 'sqlite' | 'postgresql';

export interface SqliteConfig {
  readonly kind: 'sqlite';
  /** Absolute path of the database file. */
  readonly file: string;
}

export interface PostgresConfig {
  readonly kind: 'postgresql';
  /** The connection string handed to node-postgres (without `schema`). */
  readonly url: string;
  /** The schema tables live in; `public` unless `?schema=` says otherwise. */
  readonly schema: string;
  /** The URL with its password masked, for logs and errors. */
  readonly redacted: string;
}

export type DatabaseConfig = SqliteConfig | PostgresConfig;

export interface DatabaseUrlInput {
  /** The value of DATABASE_URL; undefined or empty selects the SQLite default. */
  readonly url?: string | undefined;
  /** FORKD_DATA_DIR; where the default SQLite file lives. */
  readonly dataDir?: string | undefined;
  /** Base for relative `file:` paths; the working directory by default. */
  readonly cwd?: string | undefined;
}

/** The default SQLite file: `${dataDir}/forkd.db`, dataDir defaulting to `<repo>/var`. */
export function defaultSqliteFile(dataDir?: string): string {
  return join(resolve(dataDir || join(PACKAGE_ROOT, 'var')), 'forkd.db');
}

export function parseDatabaseUrl(input: DatabaseUrlInput = {}): DatabaseConfig {
  const raw = input.url?.trim() ?? '';
  if (raw === '') return { kind: 'sqlite', file: defaultSqliteFile(input.dataDir) };
  if (/^file:/i.test(raw)) return parseFileUrl(raw, input.cwd ?? process.cwd());
  if (/^postgres(ql)?:\/\//i.test(raw)) return parsePostgresUrl(raw);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1];
  throw configError(
    scheme === undefined
      ? 'DATABASE_URL is not a URL: use file:<path> for SQLite or postgresql://user:password@host:port/database'
      : `DATABASE_URL uses the unsupported scheme "${scheme}:"; forkd supports file: (SQLite) and postgresql:// (PostgreSQL)`,
  );
}

/** The database in words, password masked: for logs and error messages. */
export function describeDatabase(config: DatabaseConfig): string {
  return config.kind === 'sqlite' ? `sqlite file:${config.file}` : `postgresql ${config.redacted} (schema ${config.schema})`;
}

function parseFileUrl(raw: string, cwd: string): SqliteConfig {
  // Prisma's form is file:<path>; accept file:///abs too. Query parameters
  // (Prisma's connection_limit, socket_timeout) mean nothing to better-sqlite3.
  let path = raw.slice('file:'.length).replace(/[?#].*$/, '');
  if (path.startsWith('//')) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw configError('DATABASE_URL is a malformed file: URL');
    }
    if (url.host !== '' && url.host !== 'localhost') throw configError(`DATABASE_URL names a file on another host (${url.host}); use file:<path>`);
    path = decodeURIComponent(url.pathname);
  }
  if (path === '') throw configError('DATABASE_URL file: names no file; use file:<path>, e.g. file:./var/forkd.db');
  if (path === ':memory:' || path.startsWith(':memory:')) {
    throw configError('DATABASE_URL file::memory: is not supported: the migrator and the client open separate connections; use a file');
  }
  if (path.endsWith('/')) throw configError('DATABASE_URL file: names a directory; name the database file');
  return { kind: 'sqlite', file: isAbsolute(path) ? resolve(path) : resolve(cwd, path) };
}

function parsePostgresUrl(raw: string): PostgresConfig {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw configError('DATABASE_URL is a malformed postgresql:// URL; expected postgresql://user:password@host:port/database');
  }
  const redacted = redact(url);
  const socketHost = url.searchParams.get('host');
  if (url.hostname === '' && !socketHost) {
    throw configError(`DATABASE_URL names no PostgreSQL host (${redacted}); expected postgresql://user:password@host:port/database`);
  }
  if (url.port !== '' && !(Number(url.port) >= 1 && Number(url.port) <= 65535)) {
    throw configError(`DATABASE_URL has an invalid port (${redacted})`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database.includes('/')) throw configError(`DATABASE_URL names an invalid database "${database}" (${redacted})`);
  const schema = url.searchParams.get('schema') ?? 'public';
  if (!/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/.test(schema)) {
    throw configError(`DATABASE_URL has an invalid schema "${schema}"; use letters, digits and underscores (${redacted})`);
  }
  url.searchParams.delete('schema');
  return { kind: 'postgresql', url: url.toString(), schema, redacted };
}

function redact(url: URL): string {
  if (url.password === '') return url.toString();
  const copy = new URL(url.toString());
  copy.password = '****';
  return copy.toString();
}

function configError(message: string): ForkdError {
  return new ForkdError('ERR_CONFIG', message, { field: 'DATABASE_URL' });
}
