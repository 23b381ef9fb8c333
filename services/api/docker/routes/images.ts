// /images: list, inspect, load (a docker-save or OCI archive, through forkd's
// importer), save (from the store), tag, remove; pull and push through the
// registry client (../registry.ts). Image names may hold slashes, so the routes
// under /images/ take the rest of the path and split off the action.
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { importImageArchiveAll } from '../../../../images/containers/image-import.js';
import { parseRef } from '../../../../images/containers/refs.js';
import { ForkdError } from '../../../contracts/errors.js';
import type { ImageView } from '../../images.js';
import { MAX_IMAGE_UPLOAD_BYTES } from '../../server.js';
import { tenantOf, type DockerContext } from '../context.js';
import { errorBody, noSuchImage, notSupported } from '../errors.js';
import { checkFilterKeys, parseFilters } from '../filters.js';
import { dockerPull, dockerPush } from '../registry.js';
import { saveArchive } from '../save.js';

type Q = Record<string, string | string[] | undefined>;


function summary(v: ImageView) {
  return {
    Id: v.id, ParentId: '', RepoTags: v.tags, RepoDigests: [], Created: Math.floor(Date.parse(v.createdAt) / 1000),
    Size: v.sizeBytes, SharedSize: -1, VirtualSize: v.sizeBytes, Labels: {}, Containers: -1,
  };
}

function inspectDoc(v: ImageView, layers: string[], arch: string, os: string) {
  const config = v.config as Record<string, unknown>;
  return {
    Id: v.id, RepoTags: v.tags, RepoDigests: [], Parent: '', Comment: '', Created: v.createdAt,
    DockerVersion: '', Author: '',
    Config: { Env: [], Cmd: null, Entrypoint: null, WorkingDir: '', User: '', ExposedPorts: {}, Labels: {}, Volumes: null, OnBuild: null, ...config },
    Architecture: arch, Os: os, Size: v.sizeBytes, VirtualSize: v.sizeBytes,
    GraphDriver: { Name: 'forkd', Data: {} },
    RootFS: { Type: 'layers', Layers: layers },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

export async function imageRoutes(app: FastifyInstance, ctx: DockerContext): Promise<void> {
  const { images } = ctx.services;

  /** The tenant's image a Docker reference names; 404 "No such image: ref". */
  async function imageOf(tenantId: string, ref: string) {
    try {
      return await images.resolve(tenantId, ref);
    } catch (err) {
      if (err instanceof ForkdError && (err.code === 'ERR_NOT_FOUND' || err.code === 'ERR_VALIDATION')) throw noSuchImage(ref);
      throw err;
    }
  }

  app.get<{ Querystring: Q }>('/images/json', async (request) => {
    const tenantId = await tenantOf(ctx, request);
    const filters = parseFilters(request.query.filters);
    checkFilterKeys(filters, ['reference', 'dangling', 'label', 'before', 'since']);
    const refs = filters.get('reference');
    const list = (await images.list(tenantId)).map(summary);
    if (!refs) return list;
    return list.filter((i) => i.RepoTags.some((t) => refs.some((r) => t === r || t === `${r}:latest` || t.startsWith(`${r}:`))));
  });

  app.post<{ Querystring: Q }>('/images/load', async (request, reply) => load(ctx, request, reply));

  app.post<{ Querystring: Q }>('/images/create', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const from = String(request.query.fromImage ?? '');
    if (!from) throw notSupported('importing a root filesystem (docker import)', 'use docker load');
    const tag = String(request.query.tag ?? '');
    const ref = tag && !from.includes('@') ? (tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`) : from;
    // An image the tenant has is answered from the store without asking the
    // registry (forkd's `docker pull` is `--pull=missing`; `forkd image pull`
    // always asks): Docker Hub is out of reach on many forkd hosts, and
    // `docker run`/compose pull what they already loaded.
    const present = await images.resolve(tenantId, ref).catch(() => null);
    if (present) {
      await reply.header('content-type', 'application/json').send(`${JSON.stringify({ status: `Status: Image is up to date for ${ref}` })}\n`);
      return;
    }
    await dockerPull(ctx.services.registries, tenantId, ref, request, reply);
  });

  app.get<{ Querystring: Q }>('/images/get', async (request, reply) => {
    const names = [request.query.names ?? []].flat().map(String);
    await save(ctx, request, reply, names);
  });

  app.get<{ Params: { '*': string }; Querystring: Q }>('/images/*', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const path = request.params['*'];
    if (path.endsWith('/json')) {
      const row = await imageOf(tenantId, path.slice(0, -'/json'.length));
      const stored = await images.store.get(row.digest);
      const view = await images.view(tenantId, row.id);
      return inspectDoc(view, stored.layers.map((l) => l.diffId), stored.architecture, stored.os);
    }
    if (path.endsWith('/get')) return save(ctx, request, reply, [path.slice(0, -'/get'.length)]);
    if (path.endsWith('/history')) throw notSupported('image history');
    throw new ForkdError('ERR_NOT_FOUND', `page not found (forkd does not know GET /images/${path})`);
  });

  app.post<{ Params: { '*': string }; Querystring: Q }>('/images/*', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const path = request.params['*'];
    if (path.endsWith('/push')) {
      const name = path.slice(0, -'/push'.length);
      const tag = request.query.tag ? String(request.query.tag) : '';
      const ref = tag ? `${name}:${tag}` : name;
      await imageOf(tenantId, ref); // 404 "No such image" before the stream starts
      return dockerPush(ctx.services.registries, tenantId, ref, request, reply);
    }
    if (!path.endsWith('/tag')) throw new ForkdError('ERR_NOT_FOUND', `page not found (forkd does not know POST /images/${path})`);
    const row = await imageOf(tenantId, path.slice(0, -'/tag'.length));
    const repo = String(request.query.repo ?? '');
    const ref = parseRef(request.query.tag ? `${repo}:${String(request.query.tag)}` : repo);
    if (!ref) throw new ForkdError('ERR_VALIDATION', `invalid reference format: ${JSON.stringify(repo)}`, { field: 'repo' });
    const i = ref.lastIndexOf(':');
    const [name, tag] = [ref.slice(0, i), ref.slice(i + 1)];
    await ctx.services.db.imageTag.upsert({
      where: { tenantId_name_tag: { tenantId, name, tag } },
      update: { imageId: row.id },
      create: { tenantId, imageId: row.id, name, tag },
    });
    return reply.status(201).send();
  });

  app.delete<{ Params: { '*': string }; Querystring: Q }>('/images/*', async (request) => {
    const tenantId = await tenantOf(ctx, request);
    const ref = request.params['*'];
    const row = await imageOf(tenantId, ref);
    const before = (row.tags ?? []).length;
    const removed = await images.remove(tenantId, ref);
    const untagged = parseRef(ref);
    // Removing one of several names only untags (images.ts), as docker rmi does.
    if (before > 1 && removed.tags.length === before - 1 && untagged) return [{ Untagged: untagged }];
    return [...removed.tags.map((t) => ({ Untagged: t })), { Deleted: removed.id }];
  });
}

async function load(ctx: DockerContext, request: FastifyRequest<{ Querystring: Q }>, reply: FastifyReply): Promise<void> {
  const tenantId = await tenantOf(ctx, request);
  const body = request.body as Readable | undefined;
  if (!body || typeof body.pipe !== 'function') throw new ForkdError('ERR_VALIDATION', 'send the image archive (docker save output) as the request body', { field: 'body' });
  const dir = ctx.services.uploadDir;
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${randomUUID()}.upload`);
  try {
    let bytes = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > MAX_IMAGE_UPLOAD_BYTES) cb(new ForkdError('ERR_PAYLOAD_TOO_LARGE', `image archive is larger than ${MAX_IMAGE_UPLOAD_BYTES} bytes`));
        else cb(null, chunk);
      },
    });
    await pipeline(body, limit, createWriteStream(file));
    if (bytes === 0) throw new ForkdError('ERR_IMAGE_INVALID', 'the upload is empty: no image archive', { field: 'body' });
    const stored = await importImageArchiveAll(file, ctx.services.images.store, { maxArchiveBytes: MAX_IMAGE_UPLOAD_BYTES, ...ctx.services.config.imageLimits });
    const lines: string[] = [];
    for (const s of stored) {
      const view = await ctx.services.images.record(tenantId, s, s.repoTags);
      if (view.tags.length === 0) lines.push(`Loaded image ID: ${view.id}\n`);
      for (const t of s.repoTags) lines.push(`Loaded image: ${t}\n`);
    }
    await reply.header('content-type', 'application/json').send(lines.map((l) => JSON.stringify({ stream: l })).join('\n') + '\n');
  } finally {
    await rm(file, { force: true });
  }
}

async function save(ctx: DockerContext, request: FastifyRequest, reply: FastifyReply, names: string[]): Promise<void> {
  const tenantId = await tenantOf(ctx, request);
  if (names.length === 0) throw new ForkdError('ERR_VALIDATION', 'name the images to save', { field: 'names' });
  const picked = [];
  for (const name of names) {
    // Unknown or not a reference: Docker's "No such image" either way.
    const row = await ctx.services.images.resolve(tenantId, name).catch(() => { throw noSuchImage(name); });
    const named = parseRef(name);
    const tags = (row.tags ?? []).map((t) => `${t.name}:${t.tag}`);
    picked.push({ image: await ctx.services.images.store.get(row.digest), tags: named && tags.includes(named) ? [named] : tags });
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  try {
    await pipeline(Readable.from(saveArchive(picked)), res);
  } catch (err) {
    // The 200 is out: all a client can see is a cut archive, which its tar reader reports.
    request.log.warn({ err: errorBody(err) }, 'docker save stream failed');
    res.destroy();
  }
}
