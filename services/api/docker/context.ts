// What every Docker route needs: forkd's shared services, the Docker-only
// settings kept beside them, and the two lookups every route starts with
// (which tenant acts, which container a reference names).
import type { FastifyRequest } from 'fastify';
import type { ContainerView } from '../containers.js';
import { openRelay, type RelaySession } from '../io-relay.js';
import type { ApiServices } from '../services.js';
import { noSuchContainer } from './errors.js';
import { dockerId, forkdId, resolveContainer } from './ids.js';
import { defaultSettings } from './inspect.js';
import type { DockerSettings, DockerState } from './settings.js';

export interface DockerContext {
  services: ApiServices;
  state: DockerState;
}

export async function tenantOf(ctx: DockerContext, request: FastifyRequest): Promise<string> {
  return ctx.services.tenancy.tenantIdOf(request);
}

/** forkd's container id for a Docker reference (full id, name, unique prefix); 404 "No such container". */
export async function containerIdOf(ctx: DockerContext, tenantId: string, ref: string): Promise<string> {
  const exact = await ctx.services.db.container.findFirst({ where: { tenantId, OR: [{ id: forkdId(ref) }, { name: ref.replace(/^\//, '') }] }, select: { id: true } });
  if (exact) return exact.id;
  const rows = await ctx.services.db.container.findMany({ where: { tenantId }, select: { id: true, name: true } });
  return resolveContainer(rows, ref);
}

/** The container's forkd row (state refreshed from its host) and its Docker settings. */
export async function containerOf(ctx: DockerContext, tenantId: string, ref: string) {
  const id = await containerIdOf(ctx, tenantId, ref);
  // Gone between the lookup and the read (a --rm removal): Docker's "No such container".
  const row = await ctx.services.containers.refresh(await ctx.services.containers.row(tenantId, id).catch(() => { throw noSuchContainer(ref); }));
  const view = ctx.services.containers.view(row);
  await ctx.state.load([view.id]);
  return { row, view, settings: settingsOf(ctx, view) };
}

/** The container's Docker settings (load() them first); a container made through /v1 gets the defaults. */
export function settingsOf(ctx: DockerContext, view: ContainerView): DockerSettings {
  const s = ctx.state.get(view.id);
  if (!s) return defaultSettings(view);
  return s.hostname ? s : { ...s, hostname: dockerId(view.id).slice(0, 12) };
}

/** A relay session (logs, exec) holding one of the tenant's stream slots, as forkd's own routes do. */
export async function openStream(ctx: DockerContext, tenantId: string, hostId: string, start: (session: string) => Promise<unknown>): Promise<RelaySession> {
  const lease = await ctx.services.streams.acquire(tenantId, hostId);
  return openRelay(ctx.services.redis, start, lease);
}
