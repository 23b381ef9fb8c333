// Registries as the API uses them: per-tenant credentials (sealed at rest,
// never returned), and pull, push and tag of a tenant's images through the
// registry client (images/registry). A pull lands in the host image store
// verified (nothing partial) and is recorded for the tenant like an upload.
import { readFileSync } from 'node:fs';
import { ForkdError } from '../contracts/errors.js';
import type { ImageLimits } from '../contracts/config.js';
import { open, seal } from '../contracts/secrets/index.js';
import { pullImage, pushImage, type Credentials, type PullProgress, type PushProgress, type RegistryOptions } from '../../images/registry/index.js';
import { parseReference, parseRegistryHost } from '../../images/registry/reference.js';
import { normalizeRef } from '../../images/containers/refs.js';
import type { PrismaClient } from './db/client.js';
import type { Images, ImageView } from './images.js';

export interface CredentialView {
  registry: string;
  username: string;
  createdAt: string;
  updatedAt: string;
}

export interface RegistryConfig {
  limits: ImageLimits;
  timeoutMs: number;
  /** FORKD_REGISTRY_CA_FILE */
  caFile: string | undefined;
  /** FORKD_REGISTRY_INSECURE: plain HTTP without asking. */
  insecure?: string[];
}

const subject = (tenantId: string, registry: string): string => `registry-credential:${tenantId}/${registry}`;

function credentialView(row: { registry: string; username: string; createdAt: Date; updatedAt: Date }): CredentialView {
  return { registry: row.registry, username: row.username, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}

export class Registries {
  private ca: string | undefined | null = null;

  constructor(
    private readonly db: PrismaClient,
    private readonly images: Images,
    private readonly secretKey: Buffer,
    private readonly config: RegistryConfig,
  ) {}

  async login(tenantId: string, body: { registry: string; username: string; password: string }): Promise<CredentialView> {
    const registry = parseRegistryHost(body.registry);
    const secret = seal(this.secretKey, body.password, subject(tenantId, registry));
    const row = await this.db.registryCredential.upsert({
      where: { tenantId_registry: { tenantId, registry } },
      update: { username: body.username, secret },
      create: { tenantId, registry, username: body.username, secret },
    });
    return credentialView(row);
  }

  async list(tenantId: string): Promise<CredentialView[]> {
    const rows = await this.db.registryCredential.findMany({ where: { tenantId }, orderBy: { registry: 'asc' } });
    return rows.map(credentialView);
  }

  async logout(tenantId: string, host: string): Promise<CredentialView> {
    const registry = parseRegistryHost(host);
    const row = await this.db.registryCredential.findUnique({ where: { tenantId_registry: { tenantId, registry } } });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', `no login for registry ${registry}`, { field: 'registry' });
    await this.db.registryCredential.delete({ where: { id: row.id } });
    return credentialView(row);
  }

  private async credentials(tenantId: string, registry: string): Promise<Credentials | undefined> {
    const row = await this.db.registryCredential.findUnique({ where: { tenantId_registry: { tenantId, registry } } });
    if (!row) return undefined;
    return { username: row.username, password: open(this.secretKey, row.secret, subject(tenantId, registry)).toString('utf8') };
  }

  private caBundle(): string | undefined {
    if (this.ca === null) {
      const file = this.config.caFile;
      try {
        this.ca = file === undefined ? undefined : readFileSync(file, 'utf8');
      } catch (e) {
        throw new ForkdError('ERR_CONFIG', `FORKD_REGISTRY_CA_FILE ${file} cannot be read (${(e as Error).message})`, { field: 'FORKD_REGISTRY_CA_FILE' });
      }
    }
    return this.ca;
  }

  private async options(tenantId: string, registry: string, insecure: boolean, given?: Credentials): Promise<RegistryOptions> {
    const credentials = given ?? (await this.credentials(tenantId, registry));
    const ca = this.caBundle();
    return { insecure, timeoutMs: this.config.timeoutMs, ...(ca === undefined ? {} : { ca }), ...(credentials === undefined ? {} : { credentials }) };
  }

  /** Plain HTTP for this registry: asked for, or listed in FORKD_REGISTRY_INSECURE. */
  isInsecure(registry: string, asked: boolean): boolean {
    return asked || (this.config.insecure ?? []).includes(registry);
  }

  /** Checks a reference before any work starts (the 400 comes synchronously). */
  check(ref: string): void {
    parseReference(ref);
  }

  /** `credentials`: given with the request (the Docker API's X-Registry-Auth) instead of the stored login. */
  async pull(tenantId: string, ref: string, insecure: boolean, onProgress?: (p: PullProgress) => void, credentials?: Credentials): Promise<ImageView> {
    const parsed = parseReference(ref);
    const result = await pullImage(ref, {
      store: this.images.store,
      limits: this.config.limits,
      registry: await this.options(tenantId, parsed.registry, this.isInsecure(parsed.registry, insecure), credentials),
      ...(onProgress === undefined ? {} : { onProgress }),
    });
    return this.images.record(tenantId, result.image, result.tag === undefined ? [] : [result.tag], 'pull');
  }

  /** Pushes the tenant's image named `ref` (tag it first with `tag`) to the registry the name says. */
  async push(tenantId: string, ref: string, insecure: boolean, onProgress?: (p: PushProgress) => void, credentials?: Credentials): Promise<{ ref: string; digest: string; size: number }> {
    const parsed = parseReference(ref);
    if (parsed.digest !== undefined) throw new ForkdError('ERR_VALIDATION', `ref ${JSON.stringify(ref)}: push a tag, not a digest`, { field: 'ref' });
    const row = await this.images.resolve(tenantId, ref, 'ref');
    const stored = await this.images.store.get(row.digest);
    const result = await pushImage(stored, ref, {
      store: this.images.store,
      registry: await this.options(tenantId, parsed.registry, this.isInsecure(parsed.registry, insecure), credentials),
      ...(onProgress === undefined ? {} : { onProgress }),
    });
    const name = normalizeRef(ref);
    await this.images.pushed(tenantId, row.digest, name);
    return { ref: name, digest: result.manifestDigest, size: result.size };
  }

  async tag(tenantId: string, source: string, ref: string): Promise<ImageView> {
    const target = normalizeRef(ref);
    const row = await this.images.resolve(tenantId, source, 'id');
    const stored = await this.images.store.get(row.digest);
    return this.images.record(tenantId, stored, [target], 'tag');
  }
}
