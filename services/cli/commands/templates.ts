import { TENANT_OPTIONS, withTenant } from '../tenant-options.js';
import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { JSON_OPTION, forEachTarget, printJson, printTable, type Command } from '../command.js';
import { followOperation, ProgressPrinter, type OperationView } from '../operation-follow.js';

interface Pool { target: number; ready: number; starting: number }
interface TemplateView { id: string; hostId: string; image: string | null; vcpus: number; memoryMib: number; accel: string; state: string; poolSize: number; pool: Pool | null; vms: number; createdAt: string; error: string | null; kind?: string; origin?: { containerId: string; name: string; takenAt: string } | null }
interface VmView { id: string; hostId: string; template: string | null; domainName: string; boot: string; state: string; vcpus: number; memoryMib: number; containers: number; network: { id: string; name: string; address: string } | null; timings?: Record<string, number> }

const enc = encodeURIComponent;
const intOpt = (flag: string, v: unknown): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ForkdError('ERR_VALIDATION', `${flag} must be a whole number (got ${JSON.stringify(v)})`, { field: flag });
  return n;
};

export const templateCreateCommand: Command = {
  path: ['template', 'create'],
  summary: 'Build a template (boot, import the image, snapshot); with -- CMD, an app template whose forks start with CMD running',
  usage: 'forkd template create [IMAGE] [--vcpus N] [--memory MiB] [--pool N] [--json] [-- CMD…]',
  options: { ...JSON_OPTION, vcpus: { type: 'string' }, memory: { type: 'string', short: 'm' }, pool: { type: 'string' } },
  positionals: true,
  async run({ values, positionals }) {
    const [image, ...cmd] = positionals;
    const body = {
      image: image ?? null,
      ...(values.vcpus ? { vcpus: intOpt('--vcpus', values.vcpus) } : {}),
      ...(values.memory ? { memoryMib: intOpt('--memory', values.memory) } : {}),
      ...(values.pool ? { poolSize: intOpt('--pool', values.pool) } : {}),
      ...(cmd.length ? { containers: [{ command: cmd }] } : {}),
    };
    const started = Date.now();
    const api = ApiClient.fromEnv();
    // The API answers at once with an operation; the build (boot, prepare, snapshot) is followed on stderr.
    const { operation } = await api.request<{ operation: OperationView }>('POST', '/v1/templates', body);
    // On stderr even with --json (stdout stays the template's JSON): the ids to look at if this command is interrupted.
    process.stderr.write(`forkd: building template ${operation.targetId} (operation ${operation.id})\n`);
    const t = await followOperation<TemplateView>(api, operation, new ProgressPrinter(process.stderr, 'building'));
    if (values.json) printJson(t);
    else process.stdout.write(`${t.id}  ready on ${t.hostId} (${t.accel}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  },
};

export const templateLsCommand: Command = {
  path: ['template', 'ls'],
  summary: 'List templates',
  usage: 'forkd template ls [--json]',
  options: JSON_OPTION,
  async run({ values }) {
    const { templates } = await ApiClient.fromEnv().request<{ templates: TemplateView[] }>('GET', '/v1/templates');
    if (values.json) printJson(templates);
    else printTable(['ID', 'IMAGE', 'SIZE', 'ACCEL', 'STATE', 'POOL', 'VMS', 'HOST', 'ORIGIN'], templates.map((t) => [
      t.id, t.image ? t.image.slice(7, 19) : '<bare>', `${t.vcpus}cpu/${t.memoryMib}M`, t.accel, t.state, t.poolSize, t.vms, t.hostId,
      // A snapshot names the container it froze and when; a built template, its image.
      t.origin ? `snapshot of ${t.origin.name} at ${t.origin.takenAt}` : 'build',
    ]));
    return 0;
  },
};

export const templateShowCommand: Command = {
  path: ['template', 'show'],
  summary: 'Show a template and its warm pool',
  usage: 'forkd template show ID',
  options: {},
  positionals: true,
  async run({ positionals }) {
    if (!positionals[0]) throw new ForkdError('ERR_VALIDATION', 'usage: forkd template show ID', { field: 'id' });
    printJson(await ApiClient.fromEnv().request<TemplateView>('GET', `/v1/templates/${enc(positionals[0])}`));
    return 0;
  },
};

export const templatePoolCommand: Command = {
  path: ['template', 'pool'],
  summary: 'Set how many warm clone shells a template keeps (0 drains)',
  usage: 'forkd template pool ID SIZE',
  options: {},
  positionals: true,
  async run({ positionals }) {
    const [id, size] = positionals;
    if (!id || size === undefined) throw new ForkdError('ERR_VALIDATION', 'usage: forkd template pool ID SIZE', { field: 'size' });
    const t = await ApiClient.fromEnv().request<TemplateView>('PATCH', `/v1/templates/${enc(id)}`, { poolSize: intOpt('SIZE', size) });
    process.stdout.write(`${t.id}  pool ${t.poolSize}${t.pool ? ` (ready ${t.pool.ready}, starting ${t.pool.starting})` : ''}\n`);
    return 0;
  },
};

export const templateRmCommand: Command = {
  path: ['template', 'rm'],
  summary: 'Delete templates (refused while VMs use one)',
  usage: 'forkd template rm ID…',
  options: {},
  positionals: true,
  async run({ positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(templateRmCommand, positionals, async (id) => {
      await api.request('DELETE', `/v1/templates/${enc(id)}`);
    });
  },
};

export const vmForkCommand: Command = {
  path: ['vm', 'fork'],
  summary: 'Fork a running VM from a template (from its warm pool unless --no-pool; on a network with --network)',
  usage: 'forkd vm fork TEMPLATE [--no-pool] [--network NET] [--json]',
  options: { ...JSON_OPTION, 'no-pool': { type: 'boolean' }, network: { type: 'string' } },
  positionals: true,
  async run({ values, positionals }) {
    if (!positionals[0]) throw new ForkdError('ERR_VALIDATION', `usage: ${vmForkCommand.usage}`, { field: 'template' });
    const vm = await ApiClient.fromEnv().request<VmView>('POST', '/v1/vms', {
      template: positionals[0], pool: !values['no-pool'], ...(values.network ? { network: values.network } : {}),
    });
    if (values.json) printJson(vm);
    else process.stdout.write(`${vm.id}  ${vm.domainName}  ${vm.boot}${vm.timings?.totalMs !== undefined ? `  ${Math.round(vm.timings.totalMs)} ms` : ''}${vm.network ? `  ${vm.network.name} ${vm.network.address}` : ''}\n`);
    return 0;
  },
};

export const vmLsCommand: Command = {
  path: ['vm', 'ls'],
  summary: 'List VMs',
  usage: 'forkd vm ls [--json] [--tenant T | --all-tenants]',
  options: { ...JSON_OPTION, ...TENANT_OPTIONS },
  async run({ values }) {
    const { vms } = await ApiClient.fromEnv().request<{ vms: VmView[] }>('GET', withTenant('/v1/vms', values));
    if (values.json) printJson(vms);
    else printTable(['ID', 'DOMAIN', 'BOOT', 'STATE', 'SIZE', 'TEMPLATE', 'CONTAINERS', 'HOST'], vms.map((v) => [
      v.id, v.domainName, v.boot, v.state, `${v.vcpus}cpu/${v.memoryMib}M`, v.template, v.containers, v.hostId,
    ]));
    return 0;
  },
};

export const vmRmCommand: Command = {
  path: ['vm', 'rm'],
  summary: 'Destroy VMs (and the containers in them)',
  usage: 'forkd vm rm ID…',
  options: {},
  positionals: true,
  async run({ positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(vmRmCommand, positionals, async (id) => {
      await api.request('DELETE', `/v1/vms/${enc(id)}`);
    });
  },
};
