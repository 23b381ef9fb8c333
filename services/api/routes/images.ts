// /v1/images: upload (docker-save or OCI layout tar, plain or compressed), list, delete.
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { importImageArchiveAll } from '../../../images/containers/image-import.js';
import { parseRef } from '../../../images/containers/refs.js';
import type { ImageLimits } from '../../contracts/config.js';
import { ForkdError } from '../../contracts/errors.js';
import type { Images } from '../images.js';
import type { Tenancy } from '../tenancy/tenancy.js';

export const IMAGE_UPLOAD_TYPES = ['application/x-tar', 'application/tar', 'application/gzip', 'application/x-gzip', 'application/zstd', 'application/octet-stream'];

export const imageSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    sizeBytes: { type: 'integer' },
    layers: { type: 'integer' },
    config: { type: 'object', additionalProperties: true },
    createdAt: { type: 'string' },
  },
} as const;

export const importImageSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { tag: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 255 }, maxItems: 16 } },
  },
  response: { 201: { type: 'object', properties: { images: { type: 'array', items: imageSchema } } } },
} as const;

export const listImagesSchema = { response: { 200: { type: 'object', properties: { images: { type: 'array', items: imageSchema } } } } } as const;

export const deleteImageSchema = {
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 300 } } },
  response: { 200: { type: 'object', properties: { deleted: imageSchema } } },
} as const;

export interface ImageRouteOptions {
  images: Images;
  tenancy: Tenancy;
  uploadDir: string;
  maxUploadBytes: number;
  /** Ceilings on what an upload unpacks to, enforced while it is decompressed. */
  limits: ImageLimits;
}

export async function imageRoutes(app: FastifyInstance, opts: ImageRouteOptions): Promise<void> {
  // Uploads arrive as a stream straight to disk; nothing is buffered in memory.
  app.addContentTypeParser(IMAGE_UPLOAD_TYPES, (_req, payload, done) => done(null, payload));

  app.post<{ Querystring: { tag?: string[] } }>('/v1/images', { schema: importImageSchema }, async (request, reply) => {
    const tenantId = await opts.tenancy.tenantIdOf(request);
    const body = request.body as NodeJS.ReadableStream | undefined;
    if (!body || typeof (body as { pipe?: unknown }).pipe !== 'function') {
      throw new ForkdError('ERR_VALIDATION', `send the image archive as the request body with Content-Type ${IMAGE_UPLOAD_TYPES[0]} (or gzip/zstd/octet-stream)`, { field: 'body' });
    }
    const tags = request.query.tag ?? [];
    for (const t of tags) {
      if (!parseRef(t)) throw new ForkdError('ERR_VALIDATION', `query.tag ${JSON.stringify(t)} is not an image reference (name[:tag])`, { field: 'query.tag' });
    }
    await mkdir(opts.uploadDir, { recursive: true });
    const file = join(opts.uploadDir, `${randomUUID()}.upload`);
    try {
      let bytes = 0;
      const limit = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          if (bytes > opts.maxUploadBytes) cb(new ForkdError('ERR_PAYLOAD_TOO_LARGE', `image archive is larger than ${opts.maxUploadBytes} bytes`));
          else cb(null, chunk);
        },
      });
      await pipeline(body, limit, createWriteStream(file));
      if (bytes === 0) throw new ForkdError('ERR_IMAGE_INVALID', 'the upload is empty', { field: 'body' });
      // Everything is verified in a tmp directory before anything lands in the
      // store, and rows are written only after that: a refused upload leaves
      // neither blobs nor rows (and `finally` removes the upload itself).
      const stored = await importImageArchiveAll(file, opts.images.store, { tags, maxArchiveBytes: opts.maxUploadBytes, ...opts.limits });
      const views = [];
      // The archive's own names (docker save keeps them) plus any `?tag=` given.
      for (const s of stored) views.push(await opts.images.record(tenantId, s, [...new Set([...s.repoTags, ...tags])]));
      return reply.status(201).send({ images: views });
    } finally {
      await rm(file, { force: true });
    }
  });

  app.get('/v1/images', { schema: listImagesSchema }, async (request) => {
    return { images: await opts.images.list(await opts.tenancy.tenantIdOf(request)) };
  });

  app.delete<{ Params: { id: string } }>('/v1/images/:id', { schema: deleteImageSchema }, async (request) => {
    return { deleted: await opts.images.remove(await opts.tenancy.tenantIdOf(request), request.params.id) };
  });
}
