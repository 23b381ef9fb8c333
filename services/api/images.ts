// Container images as the API sees them: blobs in the host image store
// (images/containers, shared by digest), names and ownership in the database
// (per tenant). A tenant only ever sees and resolves its own images.
import { NO_EVENTS, type EventPublisher } from '../contracts/events/index.js';
import { ForkdError } from '../contracts/errors.js';
import type { JobImage } from '../contracts/jobs.js';
import type { ImageStore, StoredImage } from '../../images/containers/image-store.js';
import { parseRef } from '../../images/containers/refs.js';
import type { PrismaClient } from './db/client.js';

export interface ImageView {
  id: string;
  tags: string[];
  sizeBytes: number;
  layers: number;
  config: Record<string, unknown>;
  createdAt: string;
}

type ImageRow = { id: string; digest: string; sizeBytes: bigint; layers: unknown; config: unknown; createdAt: Date; tags?: { name: string; tag: string }[] };

export function imageView(row: ImageRow): ImageView {
  return {
    id: row.digest,
    tags: (row.tags ?? []).map((t) => `${t.name}:${t.tag}`).sort(),
    sizeBytes: Number(row.sizeBytes),
    layers: Array.isArray(row.layers) ? row.layers.length : 0,
    config: (row.config ?? {}) as Record<string, unknown>,
    createdAt: row.createdAt.toISOString(),
  };
}

export class Images {
  constructor(private readonly db: PrismaClient, readonly store: ImageStore, private readonly events: EventPublisher = NO_EVENTS) {}

  /** Records an imported (pulled, tagged) image for a tenant, moving `tags` to it; `action` is the event published. */
  async record(tenantId: string, stored: StoredImage, tags: string[], action: 'import' | 'pull' | 'tag' = 'import'): Promise<ImageView> {
    const data = {
      sizeBytes: BigInt(stored.size),
      layers: stored.layers.map((l) => ({ diffId: l.diffId, size: l.size })),
      config: stored.config as object,
    };
    const image = await this.db.image.upsert({
      where: { tenantId_digest: { tenantId, digest: stored.id } },
      update: data,
      create: { tenantId, digest: stored.id, ...data },
    });
    for (const ref of tags) {
      const [name, tag] = splitRef(ref);
      await this.db.imageTag.upsert({
        where: { tenantId_name_tag: { tenantId, name, tag } },
        update: { imageId: image.id },
        create: { tenantId, imageId: image.id, name, tag },
      });
    }
    const view = await this.view(tenantId, image.id);
    await this.events.publish({ type: 'image', action, tenantId, actor: { id: stored.id, ...(tags[0] ? { name: tags[0] } : {}), attributes: { tags: tags.join(',') } } });
    return view;
  }

  /** Publishes that a tenant's image was pushed to `ref`. */
  async pushed(tenantId: string, digest: string, ref: string): Promise<void> {
    await this.events.publish({ type: 'image', action: 'push', tenantId, actor: { id: digest, name: ref, attributes: {} } });
  }

  async view(tenantId: string, imageRowId: string): Promise<ImageView> {
    const row = await this.db.image.findFirst({ where: { id: imageRowId, tenantId }, include: { tags: true } });
    if (!row) throw new ForkdError('ERR_NOT_FOUND', 'no such image');
    return imageView(row);
  }

  async list(tenantId: string): Promise<ImageView[]> {
    const rows = await this.db.image.findMany({ where: { tenantId }, include: { tags: true }, orderBy: { createdAt: 'desc' } });
    return rows.map(imageView);
  }

  /** A tenant's image by `name[:tag]`, full digest, or a digest prefix of 12+ hex digits. */
  async resolve(tenantId: string, ref: string, field = 'image'): Promise<ImageRow & { id: string }> {
    const hex = /^(?:sha256:)?([0-9a-f]{12,64})$/.exec(ref)?.[1];
    if (hex) {
      const hits = await this.db.image.findMany({ where: { tenantId, digest: { startsWith: `sha256:${hex}` } }, include: { tags: true }, take: 2 });
      if (hits.length > 1) throw new ForkdError('ERR_VALIDATION', `image id prefix ${ref} is ambiguous`, { field });
      if (hits[0]) return hits[0];
    }
    const normalized = parseRef(ref);
    if (!normalized) {
      if (hex) throw new ForkdError('ERR_NOT_FOUND', `no image ${JSON.stringify(ref)}`, { field });
      throw new ForkdError('ERR_VALIDATION', `${field} is not an image reference or id: ${JSON.stringify(ref)}`, { field });
    }
    const [name, tag] = splitRef(normalized);
    const t = await this.db.imageTag.findUnique({ where: { tenantId_name_tag: { tenantId, name, tag } }, include: { image: { include: { tags: true } } } });
    if (!t) throw new ForkdError('ERR_NOT_FOUND', `no image ${JSON.stringify(ref)}: import it first (forkd image import FILE)`, { field });
    return t.image;
  }

  /** What hostd needs to put the image into a guest. */
  async forJob(row: { digest: string }): Promise<JobImage> {
    const stored = await this.store.get(row.digest);
    return { id: stored.id, config: stored.config, layers: stored.layers.map((l) => ({ diffId: l.diffId, size: l.size, path: l.path })) };
  }

  /** Deletes a tenant's image; refused while a container uses it. Blobs go when no tenant has the digest. */
  async remove(tenantId: string, ref: string): Promise<ImageView> {
    const row = await this.resolve(tenantId, ref, 'id');
    // Like `docker rmi`: removing one of several names only untags.
    const named = parseRef(ref);
    const tags = row.tags ?? [];
    if (named && tags.length > 1 && tags.some((t) => `${t.name}:${t.tag}` === named)) {
      const [name, tag] = splitRef(named);
      await this.db.imageTag.delete({ where: { tenantId_name_tag: { tenantId, name, tag } } });
      return this.view(tenantId, row.id);
    }
    const users = await this.db.container.count({ where: { imageId: row.id } });
    if (users > 0) throw new ForkdError('ERR_CONFLICT', `image ${ref} is used by ${users} container(s): remove them first`);
    const view = imageView(row);
    await this.db.image.delete({ where: { id: row.id } });
    if ((await this.db.image.count({ where: { digest: row.digest } })) === 0) {
      await this.store.delete(row.digest).catch(() => {}); // a blob already gone is what we wanted
    }
    await this.events.publish({ type: 'image', action: 'delete', tenantId, actor: { id: row.digest, attributes: {} } });
    return view;
  }
}

function splitRef(normalized: string): [string, string] {
  const n = parseRef(normalized) ?? normalized;
  const i = n.lastIndexOf(':');
  return [n.slice(0, i), n.slice(i + 1)];
}
