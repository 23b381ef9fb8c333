import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { JSON_OPTION, printJson, printTable, type Command } from '../command.js';

interface Tenant { id: string; name: string; maxVms: number; maxMemoryMib: number; createdAt: string }
interface Key { id: string; prefix: string; role: string; tenant: string | null; name: string | null; createdAt: string; lastUsedAt: string | null; revokedAt: string | null; key?: string }

export const tenantCreateCommand: Command = {
  path: ['tenant', 'create'],
  summary: 'Create a tenant (admin)',
  usage: 'forkd tenant create NAME [--max-vms N] [--max-memory MiB]',
  options: { 'max-vms': { type: 'string' }, 'max-memory': { type: 'string' } },
  positionals: true,
  async run({ values, positionals }) {
    if (!positionals[0]) throw new ForkdError('ERR_VALIDATION', `usage: ${tenantCreateCommand.usage}`, { field: 'name' });
    const t = await ApiClient.fromEnv().request<Tenant>('POST', '/v1/tenants', {
      name: positionals[0],
      ...(values['max-vms'] ? { maxVms: Number(values['max-vms']) } : {}),
      ...(values['max-memory'] ? { maxMemoryMib: Number(values['max-memory']) } : {}),
    });
    process.stdout.write(`${t.name}  ${t.id}  max ${t.maxVms} VMs, ${t.maxMemoryMib} MiB\n`);
    return 0;
  },
};

export const tenantLsCommand: Command = {
  path: ['tenant', 'ls'],
  summary: 'List tenants (admin)',
  usage: 'forkd tenant ls [--json]',
  options: JSON_OPTION,
  async run({ values }) {
    const { tenants } = await ApiClient.fromEnv().request<{ tenants: Tenant[] }>('GET', '/v1/tenants');
    if (values.json) printJson(tenants);
    else printTable(['NAME', 'ID', 'MAX VMS', 'MAX MEMORY'], tenants.map((t) => [t.name, t.id, t.maxVms, `${t.maxMemoryMib} MiB`]));
    return 0;
  },
};

export const keyCreateCommand: Command = {
  path: ['key', 'create'],
  summary: 'Make an API key for a tenant (or an admin key without --tenant); printed once',
  usage: 'forkd key create [--tenant NAME] [--name LABEL]',
  options: { tenant: { type: 'string' }, name: { type: 'string' } },
  async run({ values }) {
    const k = await ApiClient.fromEnv().request<Key>('POST', '/v1/keys', {
      ...(values.tenant ? { tenant: values.tenant } : {}), ...(values.name ? { name: values.name } : {}),
    });
    process.stdout.write(`${k.key}\n`);
    process.stderr.write(`forkd: ${k.role} key ${k.prefix}${k.tenant ? ` for ${k.tenant}` : ''}; store it now, it is not shown again\n`);
    return 0;
  },
};

export const keyLsCommand: Command = {
  path: ['key', 'ls'],
  summary: 'List API keys (admin)',
  usage: 'forkd key ls [--json]',
  options: JSON_OPTION,
  async run({ values }) {
    const { keys } = await ApiClient.fromEnv().request<{ keys: Key[] }>('GET', '/v1/keys');
    if (values.json) printJson(keys);
    else printTable(['ID', 'PREFIX', 'ROLE', 'TENANT', 'NAME', 'LAST USED', 'REVOKED'], keys.map((k) => [k.id, k.prefix, k.role, k.tenant, k.name, k.lastUsedAt, k.revokedAt]));
    return 0;
  },
};

export const keyRevokeCommand: Command = {
  path: ['key', 'revoke'],
  summary: 'Revoke an API key by id or prefix (admin)',
  usage: 'forkd key revoke ID|PREFIX',
  options: {},
  positionals: true,
  async run({ positionals }) {
    if (!positionals[0]) throw new ForkdError('ERR_VALIDATION', `usage: ${keyRevokeCommand.usage}`, { field: 'id' });
    const k = await ApiClient.fromEnv().request<Key>('DELETE', `/v1/keys/${encodeURIComponent(positionals[0])}`);
    process.stdout.write(`revoked ${k.prefix}\n`);
    return 0;
  },
};
