// Where the data layer finds its files, from source (services/api/db) and from
// the build (dist/services/api/db) alike.
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../contracts/config.js';
import type { DatabaseKind } from './database-url.js';

export { PACKAGE_ROOT };

/** The committed migrations of one provider, in Prisma's folder layout. */
export function migrationsDir(kind: DatabaseKind): string {
  return kind === 'sqlite' ? join(PACKAGE_ROOT, 'prisma', 'migrations') : join(PACKAGE_ROOT, 'prisma', 'postgresql', 'migrations');
}
