// SEAM: volumes. forkd's volumes (a `Volumes` service and the container
// create `volumes` field) are being built apart; until they are wired here,
// every volume endpoint and every create that mounts one answers 501 with a
// clear message, never a silent drop of the mount.
//
// To wire: `volumeRoutes` maps GET/POST/DELETE /volumes… onto the Volumes
// service; `volumesForCreate` returns the create's `volumes` field (from
// HostConfig.Binds `NAME:/path[:ro]`, HostConfig.Mounts type=volume, and
// anonymous Config.Volumes) instead of refusing, and create-body.ts puts it
// on the CreateContainerBody.
import type { FastifyInstance } from 'fastify';
import { notSupported } from './errors.js';

const HINT = 'named volumes are not wired into the Docker API yet; run without -v/--mount';

export function volumesForCreate(body: Record<string, unknown>, hostConfig: Record<string, unknown>): void {
  const binds = hostConfig.Binds;
  const mounts = hostConfig.Mounts;
  const anonymous = body.Volumes;
  const any = (v: unknown) => (Array.isArray(v) ? v.length > 0 : typeof v === 'object' && v !== null && Object.keys(v).length > 0);
  if (any(binds) || any(mounts) || any(anonymous)) throw notSupported('mounting volumes (-v, --mount)', HINT);
}

export async function volumeRoutes(app: FastifyInstance): Promise<void> {
  app.all('/volumes', async () => { throw notSupported('volumes', HINT); });
  app.all('/volumes/*', async () => { throw notSupported('volumes', HINT); });
}
