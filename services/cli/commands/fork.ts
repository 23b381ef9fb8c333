// `forkd fork`, `forkd snapshot` and `forkd run --template SNAPSHOT`: forking a
// running container (docs/fork.md "Forking a running container"). Each follows
// the API's operation; stdout gets only the new ids (or --json views).
import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { JSON_OPTION, printJson, type Command } from '../command.js';
import { followOperation, ProgressPrinter, type OperationView } from '../operation-follow.js';
import type { ContainerView } from './containers.js';

const enc = encodeURIComponent;

interface ForkResult {
  containers: ContainerView[];
  forkPoint: { templateId: string; timings: Record<string, number>; streamBytes: number; reused?: boolean; takenAt?: string };
}

function count(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ForkdError('ERR_VALIDATION', `-n must be a whole number (got ${JSON.stringify(v)})`, { field: 'count' });
  return n;
}

async function followFork(api: ApiClient, path: string, body: object, label: string, json: boolean): Promise<number> {
  const { operation } = await api.request<{ operation: OperationView }>('POST', path, body);
  const r = await followOperation<ForkResult>(api, operation, new ProgressPrinter(process.stderr, label));
  if (json) {
    printJson(r);
    return 0;
  }
  const pause = r.forkPoint.timings['pauseMs'];
  if (process.stderr.isTTY && pause !== undefined) process.stderr.write(`forkd: the parent was paused for ${pause} ms\n`);
  if (process.stderr.isTTY && r.forkPoint.reused) process.stderr.write(`forkd: reused the parent's capture of ${r.forkPoint.takenAt} (no pause; --fresh captures now)\n`);
  for (const c of r.containers) process.stdout.write(`${c.id}\n`);
  return 0;
}

export const forkCommand: Command = {
  path: ['fork'],
  summary: 'Fork a running container into N new containers (each in its own VM, memory and processes included); prints one id per line',
  usage: 'forkd fork CONTAINER [-n N] [--name NAME] [--fresh] [--json]',
  options: { ...JSON_OPTION, count: { type: 'string', short: 'n' }, name: { type: 'string' }, fresh: { type: 'boolean' } },
  positionals: true,
  async run({ values, positionals }) {
    const [container] = positionals;
    if (!container) throw new ForkdError('ERR_VALIDATION', `usage: ${forkCommand.usage}`, { field: 'container' });
    const n = count(values.count);
    const body = { ...(n === undefined ? {} : { count: n }), ...(values.name ? { name: values.name } : {}), ...(values.fresh === true ? { fresh: true } : {}) };
    return followFork(ApiClient.fromEnv(), `/v1/containers/${enc(container)}/fork`, body, `forking ${container}`, values.json === true);
  },
};

export const snapshotCommand: Command = {
  path: ['snapshot'],
  summary: 'Freeze a running container into template NAME (forkd run --template NAME starts from that moment)',
  usage: 'forkd snapshot CONTAINER NAME [--json]',
  options: JSON_OPTION,
  positionals: true,
  async run({ values, positionals }) {
    const [container, name] = positionals;
    if (!container || !name) throw new ForkdError('ERR_VALIDATION', `usage: ${snapshotCommand.usage}`, { field: container ? 'name' : 'container' });
    const api = ApiClient.fromEnv();
    const { operation } = await api.request<{ operation: OperationView }>('POST', `/v1/containers/${enc(container)}/snapshot`, { name });
    const t = await followOperation<{ id: string; pauseMs: number }>(api, operation, new ProgressPrinter(process.stderr, `snapshotting ${container}`));
    if (values.json) printJson(t);
    else process.stdout.write(`${t.id}\n`);
    return 0;
  },
};

/** `forkd run --template SNAPSHOT [-n N] [--name NAME]`: containers forked from a snapshot; prints their ids. */
export async function runFromSnapshot(template: string, values: Record<string, unknown>): Promise<number> {
  const body = { ...(values.name ? { name: values.name } : {}) };
  return followFork(ApiClient.fromEnv(), `/v1/templates/${enc(template)}/fork`, body, `starting from ${template}`, values.json === true);
}
