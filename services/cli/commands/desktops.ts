// `forkd desktop create|ls|open|rm` (docs/desktops.md): create follows the
// operation and prints the browser URL (a fresh token); open mints a new URL.
import type { DesktopView } from '../../contracts/desktop-view.js';
import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { forEachTarget, JSON_OPTION, printJson, printTable, type Command } from '../command.js';
import { followOperation, ProgressPrinter, type OperationView } from '../operation-follow.js';

const enc = encodeURIComponent;

interface Link { token: string; url: string; expiresAt: string }

function size(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ForkdError('ERR_VALIDATION', `--${field} must be a whole number (got ${JSON.stringify(v)})`, { field });
  return n;
}

export const desktopCreateCommand: Command = {
  path: ['desktop', 'create'],
  summary: 'A desktop in the browser, forked from a running desktop session; prints its URL (short-lived)',
  usage: 'forkd desktop create [--image IMAGE] [--template SNAPSHOT] [--width W] [--height H] [--json]',
  options: { ...JSON_OPTION, image: { type: 'string' }, template: { type: 'string' }, width: { type: 'string' }, height: { type: 'string' } },
  async run({ values }) {
    const api = ApiClient.fromEnv();
    const width = size(values.width, 'width');
    const height = size(values.height, 'height');
    const body = {
      ...(values.image ? { image: values.image } : {}), ...(values.template ? { template: values.template } : {}),
      ...(width === undefined ? {} : { width }), ...(height === undefined ? {} : { height }),
    };
    const { operation } = await api.request<{ operation: OperationView }>('POST', '/v1/desktops', body);
    const d = await followOperation<DesktopView>(api, operation, new ProgressPrinter(process.stderr, 'desktop'));
    const link = await api.request<Link>('POST', `/v1/desktops/${enc(d.id)}/token`);
    if (values.json) printJson({ ...d, url: link.url, expiresAt: link.expiresAt });
    else process.stdout.write(`${link.url}\n`);
    return 0;
  },
};

export const desktopOpenCommand: Command = {
  path: ['desktop', 'open'],
  summary: 'A new browser URL for a desktop (the previous one stops working)',
  usage: 'forkd desktop open DESKTOP [--json]',
  options: JSON_OPTION,
  positionals: true,
  async run({ values, positionals }) {
    const [id] = positionals;
    if (!id) throw new ForkdError('ERR_VALIDATION', `usage: ${desktopOpenCommand.usage}`, { field: 'desktop' });
    const link = await ApiClient.fromEnv().request<Link>('POST', `/v1/desktops/${enc(id)}/token`);
    if (values.json) printJson(link);
    else process.stdout.write(`${link.url}\n`);
    return 0;
  },
};

export const desktopLsCommand: Command = {
  path: ['desktop', 'ls'],
  summary: 'List desktops',
  usage: 'forkd desktop ls [--json]',
  options: JSON_OPTION,
  async run({ values }) {
    const { desktops } = await ApiClient.fromEnv().request<{ desktops: DesktopView[] }>('GET', '/v1/desktops');
    if (values.json) printJson(desktops);
    else printTable(['ID', 'STATE', 'SIZE', 'CONTAINER', 'CREATED', 'LAST ACTIVE'], desktops.map((d) => [d.id, d.state, `${d.width}x${d.height}`, d.containerId ?? '-', d.createdAt, d.lastActiveAt]));
    return 0;
  },
};

export const desktopRmCommand: Command = {
  path: ['desktop', 'rm'],
  summary: 'Remove desktops (their open pages say so)',
  usage: 'forkd desktop rm DESKTOP…',
  options: {},
  positionals: true,
  async run({ positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(desktopRmCommand, positionals, async (id) => {
      await api.request('DELETE', `/v1/desktops/${enc(id)}`);
      return id;
    });
  },
};

export const DESKTOP_COMMANDS: Command[] = [desktopCreateCommand, desktopOpenCommand, desktopLsCommand, desktopRmCommand];
