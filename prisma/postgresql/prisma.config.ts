// Prisma CLI configuration for PostgreSQL. forkd applies migrations itself at
// start (services/api/db/migrator.ts); this file lets `prisma generate`, and
// `prisma migrate deploy|status|diff` where a schema engine is installed, use
// the derived schema and the PostgreSQL migrations:
//   DATABASE_URL=postgresql://… npx prisma migrate status --config prisma/postgresql/prisma.config.ts
// Paths are relative to this file.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: './schema.prisma',
  migrations: { path: './migrations' },
  datasource: {
    url: process.env.DATABASE_URL || 'postgresql://localhost/forkd',
    // A scratch database for `prisma migrate diff --from-migrations` (README.md).
    shadowDatabaseUrl: process.env.SHADOW_DATABASE_URL,
  },
});
