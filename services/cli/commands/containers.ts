import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { JSON_OPTION, forEachTarget, printJson, printTable, type Command } from '../command.js';
import { pipeNdjson } from '../streams.js';
import { TENANT_OPTIONS, withTenant } from '../tenant-options.js';

/** By id or name: `--tenant` picks an admin's tenant (ids need none). */
const TENANT_ONLY = { tenant: TENANT_OPTIONS['tenant']! };

export interface ContainerView {
  id: string; tenantId: string; name: string; image: string; command: string[]; state: string; exitCode: number | null; oomKilled: boolean;
  createdAt: string; startedAt: string | null; finishedAt: string | null;
  ports: { containerPort: number; hostAddress: string; hostPort: number }[];
  network: { id: string; name: string; address: string } | null;
  vm: { id: string; hostId: string; domainName: string; boot: string; vcpus: number; memoryMib: number; timings?: Record<string, number> };
}

const enc = encodeURIComponent;

function needIds(positionals: string[], usage: string): string[] {
  if (positionals.length === 0) throw new ForkdError('ERR_VALIDATION', `usage: ${usage}`, { field: 'container' });
  return positionals;
}

export const psCommand: Command = {
  path: ['ps'],
  summary: 'List containers (running; -a for all)',
  usage: 'forkd ps [-a] [--json] [--tenant T | --all-tenants]',
  options: { ...JSON_OPTION, all: { type: 'boolean', short: 'a' }, ...TENANT_OPTIONS },
  async run({ values }) {
    const { containers } = await ApiClient.fromEnv().request<{ containers: ContainerView[] }>('GET', withTenant(`/v1/containers${values.all ? '?all=true' : ''}`, values));
    if (values.json) printJson(containers);
    else {
      const tenants = Boolean(values['all-tenants']);
      printTable(['ID', ...(tenants ? ['TENANT'] : []), 'NAME', 'IMAGE', 'COMMAND', 'STATE', 'VM', 'NETWORK', 'PORTS'], containers.map((c) => [
        c.id.slice(0, 12), ...(tenants ? [c.tenantId.slice(0, 12)] : []), c.name, c.image.slice(7, 19), c.command.join(' ').slice(0, 30),
        c.state === 'exited' ? `exited (${c.exitCode}${c.oomKilled ? ', OOM' : ''})` : c.state,
        `${c.vm.boot} ${c.vm.vcpus}cpu/${c.vm.memoryMib}M`, c.network ? `${c.network.name} ${c.network.address}` : null, c.ports.map((p) => `${p.hostAddress}:${p.hostPort}->${p.containerPort}`).join(','),
      ]));
    }
    return 0;
  },
};

export const inspectCommand: Command = {
  path: ['inspect'],
  summary: 'Show a container as JSON (env values redacted; --show-env prints them)',
  usage: 'forkd inspect [--show-env] [--tenant T] CONTAINER',
  options: { 'show-env': { type: 'boolean' }, ...TENANT_ONLY },
  positionals: true,
  async run({ values, positionals }) {
    const [id] = needIds(positionals, 'forkd inspect [--show-env] CONTAINER');
    // Env values are often secrets: the API redacts them unless asked, so a pasted inspect leaks names only.
    const query = values['show-env'] ? '?showEnv=true' : '';
    printJson(await ApiClient.fromEnv().request<ContainerView>('GET', withTenant(`/v1/containers/${enc(id!)}${query}`, values)));
    return 0;
  },
};

export const logsCommand: Command = {
  path: ['logs'],
  summary: 'Print a container\'s output (-f follows until it exits)',
  usage: 'forkd logs [-f] [--tail N] CONTAINER',
  options: { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string' } },
  positionals: true,
  async run({ values, positionals }) {
    const [id] = needIds(positionals, 'forkd logs [-f] CONTAINER');
    const q = new URLSearchParams({ format: 'ndjson', follow: String(Boolean(values.follow)) });
    if (values.tail !== undefined) q.set('tail', String(values.tail));
    await pipeNdjson(await ApiClient.fromEnv().fetch('GET', `/v1/containers/${enc(id!)}/logs?${q}`));
    return 0;
  },
};

export const waitCommand: Command = {
  path: ['wait'],
  summary: 'Wait for a container to exit; print and exit with its code',
  usage: 'forkd wait CONTAINER',
  options: {},
  positionals: true,
  async run({ positionals }) {
    const [id] = needIds(positionals, 'forkd wait CONTAINER');
    const c = await ApiClient.fromEnv().request<ContainerView>('POST', `/v1/containers/${enc(id!)}/wait`);
    process.stdout.write(`${c.exitCode}\n`);
    return c.exitCode ?? 1;
  },
};

export const startCommand: Command = {
  path: ['start'],
  summary: 'Start containers created without starting (`docker create`, or the API with start: false)',
  usage: 'forkd start CONTAINER…',
  options: {},
  positionals: true,
  async run({ positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(startCommand, positionals, async (id) => {
      await api.request('POST', `/v1/containers/${enc(id)}/start`);
    });
  },
};

export const stopCommand: Command = {
  path: ['stop'],
  summary: 'Stop containers (SIGTERM, then SIGKILL after -t seconds)',
  usage: 'forkd stop [-t SEC] [--tenant T] CONTAINER…',
  options: { time: { type: 'string', short: 't' }, ...TENANT_ONLY },
  positionals: true,
  async run({ values, positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(stopCommand, positionals, async (id) => {
      await api.request('POST', withTenant(`/v1/containers/${enc(id)}/stop${values.time ? `?timeoutSec=${enc(String(values.time))}` : ''}`, values));
    });
  },
};

export const killCommand: Command = {
  path: ['kill'],
  summary: 'Send a signal to containers (default SIGKILL)',
  usage: 'forkd kill [-s SIGNAL] [--tenant T] CONTAINER…',
  options: { signal: { type: 'string', short: 's' }, ...TENANT_ONLY },
  positionals: true,
  async run({ values, positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(killCommand, positionals, async (id) => {
      await api.request('POST', withTenant(`/v1/containers/${enc(id)}/kill${values.signal ? `?signal=${enc(String(values.signal))}` : ''}`, values));
    });
  },
};

export const rmCommand: Command = {
  path: ['rm'],
  summary: 'Remove containers and their VMs (-f also removes running ones)',
  usage: 'forkd rm [-f] [--tenant T] CONTAINER…',
  options: { force: { type: 'boolean', short: 'f' }, ...TENANT_ONLY },
  positionals: true,
  async run({ values, positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(rmCommand, positionals, async (id) => {
      await api.request('DELETE', withTenant(`/v1/containers/${enc(id)}${values.force ? '?force=true' : ''}`, values));
    });
  },
};
