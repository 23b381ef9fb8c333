import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { JSON_OPTION, forEachTarget, printJson, printTable, type Command } from '../command.js';

export interface VolumeView {
  id: string; name: string; sizeMib: number; hostId: string; labels: Record<string, string>; createdAt: string;
  attachedTo: { containerId: string; containerName: string; vmId: string } | null;
}

const enc = encodeURIComponent;

export const volumeCreateCommand: Command = {
  path: ['volume', 'create'],
  summary: 'Create a named volume: a persistent ext4 disk for your containers (default 1024 MiB, sparse)',
  usage: 'forkd volume create NAME [--size MiB] [--label K=V]…',
  options: { size: { type: 'string' }, label: { type: 'string', multiple: true } },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', `usage: ${volumeCreateCommand.usage}`, { field: 'name' });
    const labels: Record<string, string> = {};
    for (const l of (values.label as string[] | undefined) ?? []) {
      const eq = l.indexOf('=');
      if (eq < 1) throw new ForkdError('ERR_VALIDATION', `--label wants KEY=VALUE (got ${JSON.stringify(l)})`, { field: 'labels' });
      labels[l.slice(0, eq)] = l.slice(eq + 1);
    }
    const size = values.size === undefined ? undefined : Number(values.size);
    if (size !== undefined && !Number.isInteger(size)) throw new ForkdError('ERR_VALIDATION', `--size must be a whole number of MiB (got ${JSON.stringify(values.size)})`, { field: 'sizeMib' });
    const v = await ApiClient.fromEnv().request<VolumeView>('POST', '/v1/volumes', {
      name: positionals[0], ...(size !== undefined ? { sizeMib: size } : {}), ...(Object.keys(labels).length ? { labels } : {}),
    });
    process.stdout.write(`${v.name}  ${v.id}  ${v.sizeMib} MiB\n`);
    return 0;
  },
};

export const volumeLsCommand: Command = {
  path: ['volume', 'ls'],
  summary: 'List your volumes and the container using each',
  usage: 'forkd volume ls [--json]',
  options: JSON_OPTION,
  async run({ values }) {
    const { volumes } = await ApiClient.fromEnv().request<{ volumes: VolumeView[] }>('GET', '/v1/volumes');
    if (values.json) printJson(volumes);
    else printTable(['NAME', 'ID', 'SIZE', 'HOST', 'IN USE BY'], volumes.map((v) => [v.name, v.id, `${v.sizeMib} MiB`, v.hostId, v.attachedTo?.containerName ?? '']));
    return 0;
  },
};

export const volumeInspectCommand: Command = {
  path: ['volume', 'inspect'],
  summary: 'Show a volume (JSON)',
  usage: 'forkd volume inspect NAME',
  options: JSON_OPTION,
  positionals: true,
  async run({ positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', `usage: ${volumeInspectCommand.usage}`, { field: 'name' });
    printJson(await ApiClient.fromEnv().request<VolumeView>('GET', `/v1/volumes/${enc(positionals[0]!)}`));
    return 0;
  },
};

export const volumeRmCommand: Command = {
  path: ['volume', 'rm'],
  summary: 'Delete volumes and their data (refused while a container uses one)',
  usage: 'forkd volume rm NAME…',
  options: {},
  positionals: true,
  async run({ positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(volumeRmCommand, positionals, async (name) => {
      await api.request('DELETE', `/v1/volumes/${enc(name)}`);
    });
  },
};
