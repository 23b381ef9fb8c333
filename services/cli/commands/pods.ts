// forkd pod create|ls|inspect|resize|rm (docs/pods.md). Containers go into a pod
// with `forkd run --pod NAME`.
import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { JSON_OPTION, forEachTarget, printJson, printTable, type Command } from '../command.js';
import { followOperation, ProgressPrinter, type OperationView } from '../operation-follow.js';

export interface PodView {
  id: string; name: string; state: string; vcpus: number; memoryMib: number; pids: number; hostId: string;
  network: { id: string; name: string; address: string | null } | null;
  vm: { id: string; domainName: string; state: string } | null;
  containers: { id: string; name: string; state: string; memoryMib: number; pids: number }[];
  free: { memoryMib: number; pids: number };
  createdAt: string;
}

const enc = encodeURIComponent;

function int(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ForkdError('ERR_VALIDATION', `${flag} wants an integer (got ${JSON.stringify(v)})`, { field: flag.replace(/^--/, '') });
  return n;
}

export const podCreateCommand: Command = {
  path: ['pod', 'create'],
  summary: 'Create a pod: one VM (sized now) for several of your containers, on one network address',
  usage: 'forkd pod create NAME [--vcpus N] [--memory MiB] [--pids N] [--network NET] | NAME --template POD_TEMPLATE',
  options: { vcpus: { type: 'string' }, memory: { type: 'string', short: 'm' }, pids: { type: 'string' }, network: { type: 'string' }, template: { type: 'string', short: 't' } },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', `usage: ${podCreateCommand.usage}`, { field: 'name' });
    const vcpus = int('--vcpus', values.vcpus);
    const memoryMib = int('--memory', values.memory);
    const pids = int('--pids', values.pids);
    const api = ApiClient.fromEnv();
    const { operation } = await api.request<{ operation: OperationView }>('POST', '/v1/pods', {
      name: positionals[0],
      ...(vcpus === undefined ? {} : { vcpus }), ...(memoryMib === undefined ? {} : { memoryMib }), ...(pids === undefined ? {} : { pids }),
      ...(values.network ? { network: values.network } : {}),
      ...(values.template ? { template: values.template } : {}),
    });
    const p = await followOperation<PodView>(api, operation, new ProgressPrinter(process.stderr, `creating pod ${positionals[0]}`));
    process.stdout.write(`${p.name}  ${p.id}  ${p.memoryMib} MiB  ${p.vcpus} vCPU${p.network ? `  ${p.network.name} ${p.network.address ?? ''}` : ''}\n`);
    return 0;
  },
};

export const podLsCommand: Command = {
  path: ['pod', 'ls'],
  summary: 'List pods with their size, containers and what is free',
  usage: 'forkd pod ls [--json]',
  options: JSON_OPTION,
  async run({ values }) {
    const { pods } = await ApiClient.fromEnv().request<{ pods: PodView[] }>('GET', '/v1/pods');
    if (values.json) printJson(pods);
    else {
      printTable(['NAME', 'ID', 'STATE', 'VCPUS', 'MEMORY', 'FREE', 'CONTAINERS', 'NETWORK', 'ADDRESS'], pods.map((p) => [
        p.name, p.id, p.state, p.vcpus, `${p.memoryMib} MiB`, `${p.free.memoryMib} MiB`, p.containers.length, p.network?.name ?? '-', p.network?.address ?? '-',
      ]));
    }
    return 0;
  },
};

export const podInspectCommand: Command = {
  path: ['pod', 'inspect'],
  summary: 'Show a pod as JSON: its VM, address, containers and free memory and pids',
  usage: 'forkd pod inspect NAME',
  options: {},
  positionals: true,
  async run({ positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', `usage: ${podInspectCommand.usage}`, { field: 'name' });
    printJson(await ApiClient.fromEnv().request<PodView>('GET', `/v1/pods/${enc(positionals[0]!)}`));
    return 0;
  },
};

export const podResizeCommand: Command = {
  path: ['pod', 'resize'],
  summary: 'Refused for any change: a pod is sized when it is made (its VM is a fork of a template of that size); make a new pod instead',
  usage: 'forkd pod resize POD [--vcpus N] [--memory MiB] [--pids N]',
  options: { vcpus: { type: 'string' }, memory: { type: 'string', short: 'm' }, pids: { type: 'string' } },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', `usage: ${podResizeCommand.usage}`, { field: 'pod' });
    const vcpus = int('--vcpus', values.vcpus);
    const memoryMib = int('--memory', values.memory);
    const pids = int('--pids', values.pids);
    const p = await ApiClient.fromEnv().request<PodView>('PATCH', `/v1/pods/${enc(positionals[0]!)}`, {
      ...(vcpus === undefined ? {} : { vcpus }), ...(memoryMib === undefined ? {} : { memoryMib }), ...(pids === undefined ? {} : { pids }),
    });
    process.stdout.write(`${p.name}  ${p.memoryMib} MiB  ${p.vcpus} vCPU  ${p.pids} pids (unchanged)\n`);
    return 0;
  },
};

export const podRmCommand: Command = {
  path: ['pod', 'rm'],
  summary: 'Remove pods with their containers and VM (refused while a container runs, unless --force)',
  usage: 'forkd pod rm [--force] NAME…',
  options: { force: { type: 'boolean', short: 'f' } },
  positionals: true,
  async run({ values, positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(podRmCommand, positionals, async (name) => {
      await api.request('DELETE', `/v1/pods/${enc(name)}${values.force ? '?force=true' : ''}`);
    });
  },
};

export const podForkCommand: Command = {
  path: ['pod', 'fork'],
  summary: 'Fork a running pod: N new pods, each a new VM with all its containers mid-flight (named CONTAINER.NEWPOD)',
  usage: 'forkd pod fork POD [-n N] [--name NAME]',
  options: { count: { type: 'string', short: 'n' }, name: { type: 'string' } },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', `usage: ${podForkCommand.usage}`, { field: 'pod' });
    const count = int('-n', values.count);
    const api = ApiClient.fromEnv();
    const { operation } = await api.request<{ operation: OperationView }>('POST', `/v1/pods/${enc(positionals[0]!)}/fork`, {
      ...(count === undefined ? {} : { count }), ...(values.name ? { name: values.name } : {}),
    });
    const { pods } = await followOperation<{ pods: PodView[] }>(api, operation, new ProgressPrinter(process.stderr, `forking pod ${positionals[0]}`));
    for (const p of pods) process.stdout.write(`${p.name}  ${p.id}  ${p.containers.map((c) => c.name).join(' ')}\n`);
    return 0;
  },
};

export const podSnapshotCommand: Command = {
  path: ['pod', 'snapshot'],
  summary: 'Freeze a running pod into a template; forkd pod create NAME --template TEMPLATE starts pods from it, containers running',
  usage: 'forkd pod snapshot POD TEMPLATE',
  options: {},
  positionals: true,
  async run({ positionals }) {
    if (positionals.length !== 2) throw new ForkdError('ERR_VALIDATION', `usage: ${podSnapshotCommand.usage}`, { field: 'name' });
    const api = ApiClient.fromEnv();
    const { operation } = await api.request<{ operation: OperationView }>('POST', `/v1/pods/${enc(positionals[0]!)}/snapshot`, { name: positionals[1] });
    const t = await followOperation<{ id: string; pauseMs: number }>(api, operation, new ProgressPrinter(process.stderr, `snapshotting pod ${positionals[0]}`));
    process.stdout.write(`${t.id}  (pod paused ${t.pauseMs} ms)\n`);
    return 0;
  },
};
