// /networks mapped onto forkd's tenant networks. Docker's `bridge` (and
// `default`) is the tenant's `default` network. A container's VM joins one
// network when it is made, so connect/disconnect of a made container answers
// that forkd cannot (unless it asks for what already is).
import type { FastifyInstance } from 'fastify';
import { ForkdError } from '../../../contracts/errors.js';
import type { NetworkView } from '../../networks/networks.js';
import { containerOf, tenantOf, type DockerContext } from '../context.js';
import { noSuchNetwork } from '../errors.js';
import { checkFilterKeys, labelMatches, parseFilters } from '../filters.js';
import { dockerId, forkdId } from '../ids.js';

const networkName = (ref: string) => (ref === 'bridge' ? 'default' : ref);

export function networkDoc(n: NetworkView) {
  return {
    Name: n.name, Id: dockerId(n.id), Created: n.createdAt, Scope: 'local', Driver: 'bridge', EnableIPv4: true, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
    Internal: n.internal, Attachable: true, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: Object.fromEntries(n.containers.map((c) => [dockerId(c.id), { Name: c.name, EndpointID: '', MacAddress: '', IPv4Address: `${c.address}/24`, IPv6Address: '' }])),
    Options: {}, Labels: n.labels,
  };
}

export async function networkRoutes(app: FastifyInstance, ctx: DockerContext): Promise<void> {
  const { networks } = ctx.services;

  async function networkOf(tenantId: string, ref: string): Promise<NetworkView> {
    try {
      return await networks.get(tenantId, forkdId(networkName(ref)));
    } catch (err) {
      if (err instanceof ForkdError && err.code === 'ERR_NOT_FOUND') throw noSuchNetwork(ref);
      throw err;
    }
  }

  app.get<{ Querystring: Record<string, string | undefined> }>('/networks', async (request) => {
    const tenantId = await tenantOf(ctx, request);
    const filters = parseFilters(request.query.filters);
    checkFilterKeys(filters, ['name', 'id', 'driver', 'label', 'scope', 'type', 'dangling']);
    const docs = (await networks.list(tenantId)).map(networkDoc);
    const names = filters.get('name'), ids = filters.get('id');
    const labels = filters.get('label');
    return docs.filter((d) => (!names || names.some((n) => d.Name.includes(networkName(n)))) && (!ids || ids.some((i) => d.Id.startsWith(i)))
      && (!labels || labels.every((l) => labelMatches(d.Labels, l))));
  });

  app.get<{ Params: { id: string } }>('/networks/:id', async (request) => networkDoc(await networkOf(await tenantOf(ctx, request), request.params.id)));

  app.post<{ Body: Record<string, unknown> | undefined }>('/networks/create', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const b = request.body ?? {};
    if (typeof b.Name !== 'string' || b.Name === '') throw new ForkdError('ERR_VALIDATION', 'network name is required (Name)', { field: 'Name' });
    if (b.Driver != null && b.Driver !== '' && b.Driver !== 'bridge') {
      throw new ForkdError('ERR_NOT_IMPLEMENTED', `network driver ${String(b.Driver)} is not supported by forkd (bridge only: a tenant network)`, { field: 'Driver' });
    }
    const ipam = (b.IPAM ?? {}) as { Config?: Array<{ Subnet?: string }> };
    const subnet = ipam.Config?.[0]?.Subnet;
    const labels = b.Labels && typeof b.Labels === 'object' ? Object.fromEntries(Object.entries(b.Labels).map(([k, v]) => [k, String(v)])) : undefined;
    const view = await networks.create(tenantId, { name: b.Name, ...(labels ? { labels } : {}), ...(subnet ? { subnet } : {}), ...(b.Internal === true ? { internal: true } : {}) });
    return reply.status(201).send({ Id: dockerId(view.id), Warning: '' });
  });

  app.delete<{ Params: { id: string } }>('/networks/:id', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const n = await networkOf(tenantId, request.params.id);
    await networks.remove(tenantId, n.id);
    return reply.status(204).send();
  });

  for (const action of ['connect', 'disconnect'] as const) {
    app.post<{ Params: { id: string }; Body: { Container?: string } | undefined }>(`/networks/:id/${action}`, async (request, reply) => {
      const tenantId = await tenantOf(ctx, request);
      const n = await networkOf(tenantId, request.params.id);
      const ref = request.body?.Container;
      if (typeof ref !== 'string' || ref === '') throw new ForkdError('ERR_VALIDATION', 'Container is required', { field: 'Container' });
      const { view } = await containerOf(ctx, tenantId, ref);
      const on = view.network?.id === n.id;
      if ((action === 'connect' && on) || (action === 'disconnect' && !on)) return reply.status(200).send();
      // Compose connects each service to the project's network after its create; a pod's container stays on the pod's network (docs/docker.md "Pods").
      if (action === 'connect' && view.podId) return reply.status(200).send();
      throw new ForkdError('ERR_NOT_IMPLEMENTED', `network ${action} is not supported by forkd: a container's VM joins one network when it is created (docker run --network ${n.name})`);
    });
  }
}
