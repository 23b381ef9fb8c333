// forkd image pull / tag / push and forkd registry login / logout / ls.
// Pull and push read the API's NDJSON progress (docs/images.md "Registries")
// and print one line per layer step; on a terminal, a layer's download
// percentage rewrites its line (a log gets no percentages).
import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { ndjsonLines } from '../streams.js';
import { JSON_OPTION, printJson, printTable, type Command } from '../command.js';

interface ProgressLine {
  kind: string;
  layer?: number;
  count?: number;
  digest?: string;
  status?: string;
  current?: number;
  total?: number;
  ref?: string;
  layers?: number;
  manifestDigest?: string;
  error?: { code: string; message: string; field?: string };
  [k: string]: unknown;
}

const STATUS: Record<string, string> = {
  exists: 'already present', cached: 'fetched earlier', downloading: 'downloading', downloaded: 'downloaded',
  verified: 'verified', pushing: 'pushing', pushed: 'pushed',
};

/** One progress event as a line (no newline); undefined for events with nothing to say. */
export function formatProgress(e: ProgressLine): string | undefined {
  if (e.kind === 'resolved') return `${e.ref}: ${e.layers} layer(s), manifest ${e.manifestDigest}`;
  if (e.kind !== 'layer') return undefined;
  const short = (e.digest ?? '').slice(7, 19);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  let tail = '';
  if (e.status === 'downloading' && e.total) {
    const pct = Math.min(100, Math.floor(((e.current ?? 0) / e.total) * 100));
    const filled = Math.floor(pct / 5);
    tail = ` [${'='.repeat(filled)}${' '.repeat(20 - filled)}] ${pct}% of ${mib(e.total)}`;
  }
  else if (e.total !== undefined && e.status !== 'exists') tail = ` ${mib(e.total)}`;
  return `layer ${e.layer}/${e.count} ${short}: ${STATUS[e.status ?? ''] ?? e.status}${tail}`;
}

/** Posts to a pull/push route asking for NDJSON, prints progress to stderr, returns the `done` line. */
async function follow(path: string, body: object): Promise<ProgressLine> {
  const res = await ApiClient.fromEnv().fetch('POST', path, body, { headers: { accept: 'application/x-ndjson' } });
  const tty = process.stderr.isTTY === true;
  let last: ProgressLine | undefined;
  let rewriting = false;
  const print = (e: ProgressLine) => {
    const line = formatProgress(e);
    if (line === undefined) return;
    if (e.status === 'downloading') {
      // A bar on a terminal; in a log, the percentages would be noise ('downloaded' follows).
      if (tty) {
        process.stderr.write(`\r\x1b[2K${line}`);
        rewriting = true;
      }
      return;
    }
    process.stderr.write(`${rewriting ? '\r\x1b[2K' : ''}${line}\n`);
    rewriting = false;
  };
  for await (const line of ndjsonLines(res.body)) {
    last = JSON.parse(line) as ProgressLine;
    print(last);
  }
  if (rewriting) process.stderr.write('\n');
  if (last?.kind === 'error' && last.error) {
    throw new ForkdError(last.error.code as never, last.error.message, last.error.field === undefined ? {} : { field: last.error.field });
  }
  if (last?.kind !== 'done') throw new ForkdError('ERR_HOST_UNAVAILABLE', 'the API ended the progress stream before the end (did it restart?): run the command again to resume');
  return last;
}

const INSECURE = { insecure: { type: 'boolean' } } as const;

export const imagePullCommand: Command = {
  path: ['image', 'pull'],
  summary: 'Pull an image from a registry (per-layer progress; a failed pull resumes at its layer)',
  usage: 'forkd image pull REF [--insecure] [--json]',
  options: { ...INSECURE, ...JSON_OPTION },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', 'usage: forkd image pull REF [--insecure]', { field: 'ref' });
    const done = await follow('/v1/images/pull', { ref: positionals[0], insecure: values.insecure === true });
    const image = done.image as { id: string; tags: string[] };
    if (values.json) printJson(image);
    else process.stdout.write(`${image.id}  ${image.tags.join(', ') || '<untagged>'}\n`);
    return 0;
  },
};

export const imagePushCommand: Command = {
  path: ['image', 'push'],
  summary: 'Push an image to the registry its name says (tag it first: forkd image tag)',
  usage: 'forkd image push REF [--insecure] [--json]',
  options: { ...INSECURE, ...JSON_OPTION },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', 'usage: forkd image push REF [--insecure]', { field: 'ref' });
    const done = await follow('/v1/images/push', { ref: positionals[0], insecure: values.insecure === true });
    const pushed = done.pushed as { ref: string; digest: string; size: number };
    if (values.json) printJson(pushed);
    else process.stdout.write(`${pushed.ref}: digest: ${pushed.digest} size: ${pushed.size}\n`);
    return 0;
  },
};

export const imageTagCommand: Command = {
  path: ['image', 'tag'],
  summary: 'Give an image another name (e.g. a registry name to push to)',
  usage: 'forkd image tag IMAGE NAME[:TAG]',
  options: {},
  positionals: true,
  async run({ positionals }) {
    if (positionals.length !== 2) throw new ForkdError('ERR_VALIDATION', 'usage: forkd image tag IMAGE NAME[:TAG]', { field: 'ref' });
    const { image } = await ApiClient.fromEnv().request<{ image: { id: string; tags: string[] } }>('POST', `/v1/images/${encodeURIComponent(positionals[0]!)}/tag`, { ref: positionals[1] });
    process.stdout.write(`${image.id}  ${image.tags.join(', ')}\n`);
    return 0;
  },
};

async function readStdin(): Promise<string> {
  let s = '';
  for await (const chunk of process.stdin) s += Buffer.from(chunk as Uint8Array).toString('utf8');
  return s.replace(/\r?\n$/, '');
}

export const registryLoginCommand: Command = {
  path: ['registry', 'login'],
  summary: "Store a registry login for the key's tenant (sealed at rest; used by pull and push)",
  usage: 'forkd registry login HOST -u USER --password-stdin',
  options: { username: { type: 'string', short: 'u' }, 'password-stdin': { type: 'boolean' } },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', 'usage: forkd registry login HOST -u USER --password-stdin', { field: 'registry' });
    if (typeof values.username !== 'string') throw new ForkdError('ERR_VALIDATION', 'give the user name with -u USER', { field: 'username' });
    // A password on the command line would sit in the shell history and `ps`.
    if (values['password-stdin'] !== true) throw new ForkdError('ERR_VALIDATION', 'pass the password on standard input with --password-stdin (e.g. `cat token | forkd registry login HOST -u USER --password-stdin`)', { field: 'password' });
    const password = await readStdin();
    if (!password) throw new ForkdError('ERR_VALIDATION', 'no password on standard input', { field: 'password' });
    const { credential } = await ApiClient.fromEnv().request<{ credential: { registry: string; username: string } }>('POST', '/v1/registries/credentials', { registry: positionals[0], username: values.username, password });
    process.stdout.write(`logged in to ${credential.registry} as ${credential.username}\n`);
    return 0;
  },
};

export const registryLogoutCommand: Command = {
  path: ['registry', 'logout'],
  summary: "Forget the tenant's login for a registry",
  usage: 'forkd registry logout HOST',
  options: {},
  positionals: true,
  async run({ positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', 'usage: forkd registry logout HOST', { field: 'registry' });
    const { deleted } = await ApiClient.fromEnv().request<{ deleted: { registry: string } }>('DELETE', `/v1/registries/credentials/${encodeURIComponent(positionals[0]!)}`);
    process.stdout.write(`removed login for ${deleted.registry}\n`);
    return 0;
  },
};

export const registryLsCommand: Command = {
  path: ['registry', 'ls'],
  summary: "List the tenant's registry logins (never the passwords)",
  usage: 'forkd registry ls [--json]',
  options: JSON_OPTION,
  async run({ values }) {
    const { credentials } = await ApiClient.fromEnv().request<{ credentials: Array<{ registry: string; username: string; updatedAt: string }> }>('GET', '/v1/registries/credentials');
    if (values.json) printJson(credentials);
    else printTable(['REGISTRY', 'USERNAME', 'UPDATED'], credentials.map((c) => [c.registry, c.username, c.updatedAt]));
    return 0;
  },
};
