// Volumes: `/volumes…` mapped onto forkd's Volumes service, and the mounts a
// container create asks for (`-v name:/path[:ro]`, `--mount type=volume`,
// Config.Volumes) turned into forkd's create `volumes` field. forkd has no
// host bind mounts (a container is a VM on a host it does not choose), so a
// host path is refused with a 400 that says so, never silently dropped.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ForkdError } from '../../contracts/errors.js';
import type { VolumeRequest } from '../volumes/rules.js';
import type { VolumeView } from '../volumes/volumes.js';
import { tenantOf, type DockerContext } from './context.js';
import { checkFilterKeys, labelMatches, parseFilters, queryBool } from './filters.js';
import { dockerId } from './ids.js';

const bad = (field: string, message: string) => new ForkdError('ERR_VALIDATION', message, { field });

export interface CreateMounts {
  volumes: VolumeRequest[];
  /** Names made up for anonymous volumes (Config.Volumes, `--mount` without a source); the create makes them. */
  anonymous: string[];
}

/** A fresh anonymous volume's name, as Docker's: 64 hex digits. */
const anonymousName = () => randomBytes(32).toString('hex');

/** `name:/path[:opts]`; opts are comma-separated, `ro` the one that matters (rw, z, Z, nocopy are accepted and change nothing). */
export function parseBind(bind: string, field: string): VolumeRequest {
  const parts = bind.split(':');
  if (parts.length < 2 || parts.length > 3 || parts[0] === '' || parts[1] === '') throw bad(field, `invalid volume specification: '${bind}' (want NAME:/path[:ro])`);
  const [source, path, opts = ''] = parts as [string, string, string?];
  if (source.startsWith('/') || source.startsWith('.') || source.startsWith('~')) {
    throw bad(field, `host bind mounts are not supported by forkd (${bind}): a container runs in a VM and cannot see the host's files; use a named volume (-v NAME:${path})`);
  }
  if (!path.startsWith('/')) throw bad(field, `invalid volume specification: '${bind}': the mount point must be an absolute path`);
  const flags = opts.split(',').filter((o) => o !== '');
  for (const f of flags) if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'copy'].includes(f)) throw bad(field, `invalid mode: ${f} (in '${bind}')`);
  return { volume: source, path, readOnly: flags.includes('ro') };
}

/** The create's mounts from HostConfig.Binds, HostConfig.Mounts and Config.Volumes (anonymous ones not already mounted there). */
export function volumesForCreate(body: Record<string, unknown>, hostConfig: Record<string, unknown>): CreateMounts {
  const volumes: VolumeRequest[] = [];
  const anonymous: string[] = [];
  const binds = hostConfig.Binds ?? [];
  if (!Array.isArray(binds) || !binds.every((b) => typeof b === 'string')) throw bad('HostConfig.Binds', 'HostConfig.Binds must be a list of strings');
  binds.forEach((b: string, i) => volumes.push(parseBind(b, `HostConfig.Binds[${i}]`)));
  const mounts = hostConfig.Mounts ?? [];
  if (!Array.isArray(mounts)) throw bad('HostConfig.Mounts', 'HostConfig.Mounts must be a list');
  mounts.forEach((m: Record<string, unknown>, i) => {
    const field = `HostConfig.Mounts[${i}]`;
    const type = m?.Type ?? 'volume';
    if (type === 'bind') throw bad(`${field}.Type`, `host bind mounts are not supported by forkd (${String(m.Source)}): a container runs in a VM and cannot see the host's files; use type=volume`);
    if (type !== 'volume') throw new ForkdError('ERR_NOT_IMPLEMENTED', `mount type ${String(type)} is not supported by forkd (volume only)`, { field: `${field}.Type` });
    if (typeof m.Target !== 'string' || !m.Target.startsWith('/')) throw bad(`${field}.Target`, 'the mount target must be an absolute path');
    let source = typeof m.Source === 'string' ? m.Source : '';
    if (source === '') anonymous.push((source = anonymousName()));
    volumes.push({ volume: source, path: m.Target, readOnly: m.ReadOnly === true });
  });
  const declared = body.Volumes;
  if (declared !== undefined && declared !== null) {
    if (typeof declared !== 'object' || Array.isArray(declared)) throw bad('Volumes', 'Volumes must be an object of paths');
    for (const path of Object.keys(declared)) {
      if (!path.startsWith('/')) throw bad('Volumes', `invalid mount point ${JSON.stringify(path)}: must be an absolute path`);
      if (volumes.some((v) => v.path === path)) continue;
      const name = anonymousName();
      anonymous.push(name);
      volumes.push({ volume: name, path, readOnly: false });
    }
  }
  return { volumes, anonymous };
}

/** `rm -v` and `--rm`: a container's anonymous volumes go with it (named ones stay, as Docker's do); a failure is logged, never the caller's error. */
export async function removeAnonymous(ctx: DockerContext, tenantId: string, names: readonly string[], warn: (msg: string, fields: object) => void): Promise<void> {
  for (const name of names) {
    await ctx.services.volumes.remove(tenantId, name).catch((err: unknown) => {
      if (!(err instanceof ForkdError && err.code === 'ERR_NOT_FOUND')) warn('could not remove an anonymous volume with its container', { volume: name, err: String(err) });
    });
  }
}

export function volumeDoc(v: VolumeView) {
  return {
    Name: v.name, Driver: 'local', Mountpoint: `/forkd/volumes/${v.id}`, CreatedAt: v.createdAt, Labels: v.labels, Scope: 'local', Options: { size: `${v.sizeMib}m` },
    UsageData: { Size: -1, RefCount: v.attachedTo ? 1 : 0 },
  };
}

export async function volumeRoutes(app: FastifyInstance, ctx: DockerContext): Promise<void> {
  const { volumes } = ctx.services;

  /** Docker's words for a missing volume, which clients match on. */
  const get = async (tenantId: string, name: string) => volumes.get(tenantId, name).catch((err: unknown) => {
    if (err instanceof ForkdError && err.code === 'ERR_NOT_FOUND') throw new ForkdError('ERR_NOT_FOUND', `get ${name}: no such volume`);
    throw err;
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/volumes', async (request) => {
    const tenantId = await tenantOf(ctx, request);
    const filters = parseFilters(request.query.filters);
    checkFilterKeys(filters, ['name', 'label', 'dangling', 'driver']);
    const all = await volumes.list(tenantId);
    const picked = all.filter((v) => (!filters.has('name') || filters.get('name')!.some((n) => v.name.includes(n)))
      && (!filters.has('label') || filters.get('label')!.every((l) => labelMatches(v.labels, l)))
      && (!filters.has('dangling') || filters.get('dangling')!.some((d) => queryBool(d) === (v.attachedTo === null)))
      && (!filters.has('driver') || filters.get('driver')!.includes('local')));
    return { Volumes: picked.map(volumeDoc), Warnings: [] };
  });

  app.post<{ Body: Record<string, unknown> | undefined }>('/volumes/create', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const b = request.body ?? {};
    if (b.Driver != null && b.Driver !== '' && b.Driver !== 'local') {
      throw new ForkdError('ERR_NOT_IMPLEMENTED', `volume driver ${String(b.Driver)} is not supported by forkd (local only)`, { field: 'Driver' });
    }
    const name = typeof b.Name === 'string' && b.Name !== '' ? b.Name : anonymousName();
    const labels = (b.Labels ?? {}) as Record<string, string>;
    const opts = (b.DriverOpts ?? {}) as Record<string, string>;
    // `--opt size=2g` sizes the disk (in MiB for forkd); other options have no meaning here.
    const sizeMib = opts.size !== undefined ? sizeToMib(opts.size) : undefined;
    // Docker answers an existing name with that volume, not an error (compose relies on it).
    const existing = await volumes.get(tenantId, name).catch(() => null);
    if (existing) return reply.status(201).send(volumeDoc(existing));
    try {
      return reply.status(201).send(volumeDoc(await volumes.create(tenantId, { name, labels, ...(sizeMib ? { sizeMib } : {}) })));
    } catch (err) {
      // Made by someone else meanwhile: theirs is the answer.
      if (err instanceof ForkdError && err.code === 'ERR_CONFLICT' && err.field === 'name') return reply.status(201).send(volumeDoc(await volumes.get(tenantId, name)));
      throw err;
    }
  });

  app.get<{ Params: { name: string } }>('/volumes/:name', async (request) => volumeDoc(await get(await tenantOf(ctx, request), request.params.name)));

  app.delete<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>('/volumes/:name', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const v = await get(tenantId, request.params.name);
    try {
      await volumes.remove(tenantId, v.id);
    } catch (err) {
      if (err instanceof ForkdError && err.code === 'ERR_CONFLICT') {
        throw new ForkdError('ERR_CONFLICT', `remove ${v.name}: volume is in use - [${v.attachedTo ? dockerId(v.attachedTo.containerId) : ''}]`);
      }
      throw err;
    }
    return reply.status(204).send();
  });

  /** Removes the volumes no live container holds: anonymous ones, or all with the `all=true` filter (Docker 23+'s rule). */
  app.post<{ Querystring: Record<string, string | undefined> }>('/volumes/prune', async (request) => {
    const tenantId = await tenantOf(ctx, request);
    const filters = parseFilters(request.query.filters);
    checkFilterKeys(filters, ['label', 'all']);
    const deleted: string[] = [];
    for (const v of await volumes.list(tenantId)) {
      if (v.attachedTo || (filters.has('label') && !filters.get('label')!.every((l) => labelMatches(v.labels, l)))) continue;
      if (!queryBool(filters.get('all')?.[0]) && !/^[0-9a-f]{64}$/.test(v.name)) continue;
      try {
        await volumes.remove(tenantId, v.id);
        deleted.push(v.name);
      } catch (err) {
        if (!(err instanceof ForkdError && err.code === 'ERR_CONFLICT')) throw err; // attached meanwhile: kept
      }
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: 0 };
  });
}

/** Docker's size option (`2g`, `512m`, bytes) in MiB. */
function sizeToMib(size: string): number {
  const m = /^(\d+)([kmgt]?)i?b?$/i.exec(size.trim());
  if (!m) throw bad('DriverOpts.size', `invalid size ${JSON.stringify(size)} (want e.g. 512m, 2g)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const mib = unit === 't' ? n * 1024 * 1024 : unit === 'g' ? n * 1024 : unit === 'm' ? n : unit === 'k' ? n / 1024 : n / (1024 * 1024);
  return Math.max(1, Math.ceil(mib));
}
