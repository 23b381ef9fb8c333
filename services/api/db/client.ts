// Opens forkd's database: validates DATABASE_URL, applies pending migrations,
// and returns a Prisma client on the right driver adapter.
//
// A Prisma schema is bound to one provider, so there are two generated
// clients (prisma/generated/sqlite and prisma/generated/postgresql, made by
// `node prisma/generate.mjs`) with the same models and the same API. The rest
// of forkd uses one type, `PrismaClient` (the SQLite client's type); the
// PostgreSQL client is cast to it in one place below.
import type { PrismaClient as SqlitePrismaClient } from '../../../prisma/generated/sqlite/client.js';
import { ForkdError } from '../../contracts/errors.js';
import type { DatabaseConfig, DatabaseKind } from './database-url.js';
import { describeDatabase, parseDatabaseUrl } from './database-url.js';
import type { MigrateResult } from './migrator.js';
import { migrate } from './migrator.js';

/** The client every part of forkd codes against, whichever database is underneath. */
export type PrismaClient = SqlitePrismaClient;
/** Row types and Prisma's input types (Prisma.VmWhereInput, …), the same for both databases. */
export type {
  ApiKey,
  Container,
  Host,
  Image,
  ImageTag,
  Operation,
  Prisma,
  Template,
  Tenant,
  Vm,
} from '../../../prisma/generated/sqlite/client.js';

export interface OpenDatabaseOptions {
  /** DATABASE_URL; process.env.DATABASE_URL when omitted (pass '' for the SQLite default). */
  readonly url?: string | undefined;
  /** FORKD_DATA_DIR; process.env.FORKD_DATA_DIR when omitted. */
  readonly dataDir?: string | undefined;
  /** Apply pending migrations first (default true). */
  readonly migrate?: boolean;
  /** Another migrations folder (tests). */
  readonly migrationsDir?: string;
}

export interface Database {
  readonly prisma: PrismaClient;
  readonly kind: DatabaseKind;
  readonly config: DatabaseConfig;
  /** What the migrator did; empty lists when `migrate: false`. */
  readonly migrations: MigrateResult;
  close(): Promise<void>;
}

/**
 * Throws ForkdError ERR_CONFIG (field DATABASE_URL) for a malformed URL,
 * before creating anything; ERR_DATABASE when the database cannot be reached
 * or migrated.
 */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const config = parseDatabaseUrl({
    url: 'url' in options ? options.url : process.env.DATABASE_URL,
    dataDir: 'dataDir' in options ? options.dataDir : process.env.FORKD_DATA_DIR,
  });
  const migrations =
    options.migrate === false
      ? { applied: [], all: [] }
      : await migrate(config, options.migrationsDir === undefined ? {} : { migrationsDir: options.migrationsDir });
  const prisma = await createClient(config);
  try {
    await prisma.$connect();
  } catch (err) {
    await prisma.$disconnect().catch(() => {});
    throw new ForkdError('ERR_DATABASE', `cannot connect to ${describeDatabase(config)}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  return {
    prisma,
    kind: config.kind,
    config,
    migrations,
    close: () => prisma.$disconnect(),
  };
}

/** A client for an already migrated database. */
export async function createClient(config: DatabaseConfig): Promise<PrismaClient> {
  if (config.kind === 'sqlite') {
    const [{ PrismaClient: Client }, { PrismaBetterSqlite3 }] = await Promise.all([
      import('../../../prisma/generated/sqlite/client.js'),
      import('@prisma/adapter-better-sqlite3'),
    ]);
    // timeout: how long a write waits for SQLite's lock (busy_timeout).
    return new Client({ adapter: new PrismaBetterSqlite3({ url: config.file, fileMustExist: true, timeout: 15_000 }) });
  }
  const [{ PrismaClient: Client }, { PrismaPg }] = await Promise.all([
    import('../../../prisma/generated/postgresql/client.js'),
    import('@prisma/adapter-pg'),
  ]);
  const client = new Client({ adapter: new PrismaPg({ connectionString: config.url, application_name: 'forkd-api' }, { schema: config.schema }) });
  // The one cast: both clients are generated from the same models (the
  // PostgreSQL schema is derived from the SQLite one, and a unit test keeps
  // them in step), so their model APIs match. The SQLite type is the narrower
  // of the two (no `mode: 'insensitive'`, no `skipDuplicates`), so code
  // written against it runs on both.
  return client as unknown as PrismaClient;
}
