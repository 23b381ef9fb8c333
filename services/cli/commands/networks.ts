import { TENANT_OPTIONS, withTenant } from '../tenant-options.js';
import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { JSON_OPTION, forEachTarget, printJson, printTable, type Command } from '../command.js';

export interface NetworkView {
  id: string; name: string; subnet: string; gateway: string; internal: boolean; hostId: string | null; createdAt: string;
  containers: { id: string; name: string; address: string }[];
  vms: { id: string; address: string }[];
}

const enc = encodeURIComponent;

export const networkCreateCommand: Command = {
  path: ['network', 'create'],
  summary: 'Create a network for your containers (a free 10.89.N.0/24 unless --subnet; --internal: no route out)',
  usage: 'forkd network create NAME [--subnet CIDR] [--internal]',
  options: { subnet: { type: 'string' }, internal: { type: 'boolean' } },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', `usage: ${networkCreateCommand.usage}`, { field: 'name' });
    const n = await ApiClient.fromEnv().request<NetworkView>('POST', '/v1/networks', {
      name: positionals[0], ...(values.subnet ? { subnet: values.subnet } : {}), ...(values.internal ? { internal: true } : {}),
    });
    process.stdout.write(`${n.name}  ${n.id}  ${n.subnet}  gateway ${n.gateway}${n.internal ? '  internal' : ''}\n`);
    return 0;
  },
};

export const networkLsCommand: Command = {
  path: ['network', 'ls'],
  summary: 'List networks (every tenant has `default`, 10.89.0.0/24)',
  usage: 'forkd network ls [--json] [--tenant T | --all-tenants]',
  options: { ...JSON_OPTION, ...TENANT_OPTIONS },
  async run({ values }) {
    const { networks } = await ApiClient.fromEnv().request<{ networks: NetworkView[] }>('GET', withTenant('/v1/networks', values));
    if (values.json) printJson(networks);
    else {
      printTable(['NAME', 'ID', 'SUBNET', 'GATEWAY', 'INTERNAL', 'HOST', 'CONTAINERS'], networks.map((n) => [
        n.name, n.id, n.subnet, n.gateway, n.internal ? 'yes' : 'no', n.hostId, n.containers.length + n.vms.length,
      ]));
    }
    return 0;
  },
};

export const networkInspectCommand: Command = {
  path: ['network', 'inspect'],
  summary: 'Show a network and the containers on it, with their addresses',
  usage: 'forkd network inspect NAME [--json]',
  options: JSON_OPTION,
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', `usage: ${networkInspectCommand.usage}`, { field: 'name' });
    const n = await ApiClient.fromEnv().request<NetworkView>('GET', `/v1/networks/${enc(positionals[0]!)}`);
    if (values.json) {
      printJson(n);
      return 0;
    }
    process.stdout.write(`${n.name}  ${n.id}\nsubnet ${n.subnet}  gateway ${n.gateway}  ${n.internal ? 'internal (no route out)' : 'routed out through the host'}  host ${n.hostId ?? '(none yet)'}\n\n`);
    printTable(['CONTAINER', 'ID', 'ADDRESS'], [
      ...n.containers.map((c) => [c.name, c.id, c.address]),
      ...n.vms.map((v) => ['(VM)', v.id, v.address]),
    ]);
    return 0;
  },
};

export const networkRmCommand: Command = {
  path: ['network', 'rm'],
  summary: 'Delete networks (refused while containers use one; `default` stays)',
  usage: 'forkd network rm NAME…',
  options: {},
  positionals: true,
  async run({ positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(networkRmCommand, positionals, async (name) => {
      await api.request('DELETE', `/v1/networks/${enc(name)}`);
    });
  },
};
