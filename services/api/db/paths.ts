// Where the data layer finds its files, from source (services/api/db) and from
// the build (dist/services/api/db) alike.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatabaseKind } from './database-url.js';

/** The repository (or installed package) root: the nearest folder above with package.json and prisma/. */
export const PACKAGE_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'prisma'))) return dir;
  }
  return resolve(from, '..', '..', '..');
}

/** The committed migrations of one provider, in Prisma's folder layout. */
export function migrationsDir(kind: DatabaseKind): string {
  return kind === 'sqlite' ? join(PACKAGE_ROOT, 'prisma', 'migrations') : join(PACKAGE_ROOT, 'prisma', 'postgresql', 'migrations');
}
