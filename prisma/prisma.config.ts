// Prisma CLI configuration for the SQLite schema (the default). forkd applies
// migrations itself at start (services/api/db/migrator.ts); this file lets
// `prisma generate`, and `prisma migrate deploy|status|diff` where a schema
// engine is installed, find the schema, the migrations and the database:
//   npx prisma migrate status --config prisma/prisma.config.ts
// The schema and migrations paths are relative to this file; the database is
// DATABASE_URL, else the same default forkd uses (${FORKD_DATA_DIR:-<repo>/var}/forkd.db).
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'prisma/config';

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

export default defineConfig({
  schema: './schema.prisma',
  migrations: { path: './migrations' },
  datasource: { url: process.env.DATABASE_URL || `file:${join(resolve(process.env.FORKD_DATA_DIR || join(repo, 'var')), 'forkd.db')}` },
});
