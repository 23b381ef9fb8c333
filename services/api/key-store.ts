// API keys in the database: lookup for auth, and the admin key made on first start.
import type { Logger } from '../contracts/logger.js';
import { generateApiKey, keyFileExists, writeKeyFile, type Principal, type Role } from './api-keys.js';
import type { ApiKeyLookup } from './auth.js';
import type { PrismaClient } from './db/client.js';

const LAST_USED_RESOLUTION_MS = 60_000;

export class KeyStore implements ApiKeyLookup {
  constructor(private readonly db: PrismaClient) {}

  async findActiveKeyByHash(hash: string): Promise<Principal | null> {
    const row = await this.db.apiKey.findUnique({ where: { hash } });
    if (!row || row.revokedAt) return null;
    // lastUsedAt is a hint for humans: at most one write a minute per key, not one per request.
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      void this.db.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
    }
    return { keyId: row.id, role: row.role as Role, tenantId: row.tenantId };
  }

  /**
   * On first start, makes the admin key and writes it once to `keyFile` (0600).
   * Later starts leave it alone: the database keeps only the hash, so a lost
   * file means making a new key, never reading the old one back.
   */
  async ensureAdminKey(keyFile: string, log: Logger): Promise<void> {
    const existing = await this.db.apiKey.count({ where: { role: 'admin', revokedAt: null } });
    if (existing > 0) {
      if (!keyFileExists(keyFile)) log.warn('admin key file is missing; the key in the database still works', { keyFile });
      return;
    }
    const k = generateApiKey();
    if (keyFileExists(keyFile)) {
      // A key file with no key in the database (a fresh DATABASE_URL): replace it.
      const { rm } = await import('node:fs/promises');
      await rm(keyFile);
    }
    await writeKeyFile(keyFile, k.key);
    await this.db.apiKey.create({ data: { role: 'admin', name: 'admin (first start)', prefix: k.prefix, hash: k.hash } });
    log.info('created the admin API key', { keyFile, prefix: k.prefix });
  }
}
