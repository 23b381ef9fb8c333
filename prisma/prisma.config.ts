// Prisma CLI configuration for the SQLite schema (the default). forkd applies
// migrations itself at start (services/api/db/migrator.ts); this file exists so
// `prisma generate`, and `prisma migrate deploy|status|diff` where a schema
// engine is installed, find the schema, the migrations and the database:
//   npx prisma migrate status --config prisma/prisma.config.ts
// Paths are relative to this file.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: './schema.prisma',
  migrations: { path: './migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'file:../var/forkd.db' },
});
