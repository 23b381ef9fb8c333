import WebSocket from 'ws';
import { ForkdError, type ErrorBody } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import type { Command } from '../command.js';
import { pipeNdjson } from '../streams.js';

export const execCommand: Command = {
  path: ['exec'],
  summary: 'Run a command in a running container; -i streams this terminal\'s stdin to it',
  usage: 'forkd exec [-i] [-e K=V]… [-w DIR] CONTAINER -- CMD…',
  options: { interactive: { type: 'boolean', short: 'i' }, env: { type: 'string', short: 'e', multiple: true }, workdir: { type: 'string', short: 'w' } },
  positionals: true,
  async run({ values, positionals }) {
    const [id, ...command] = positionals;
    if (!id || command.length === 0) throw new ForkdError('ERR_VALIDATION', `usage: ${execCommand.usage}`, { field: 'command' });
    const api = ApiClient.fromEnv();
    const env = (values.env as string[] | undefined) ?? [];
    if (!values.interactive) {
      const res = await api.fetch('POST', `/v1/containers/${encodeURIComponent(id)}/exec`, {
        command, ...(env.length ? { env } : {}), ...(values.workdir ? { workingDir: values.workdir } : {}),
      });
      return (await pipeNdjson(res)).exitCode ?? 1;
    }
    return execInteractive(api, id, command, env, values.workdir as string | undefined);
  },
};

async function execInteractive(api: ApiClient, id: string, command: string[], env: string[], workingDir: string | undefined): Promise<number> {
  // The command and env (often secrets) go in the first message, not the URL: URLs end up in logs.
  const url = `${api.baseUrl.replace(/^http/, 'ws')}/v1/containers/${encodeURIComponent(id)}/exec`;
  const key = api.key;
  const ws = new WebSocket(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return new Promise<number>((resolve, reject) => {
    let exitCode = 1;
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => {
        try {
          reject(ForkdError.fromJSON(JSON.parse(body) as ErrorBody));
        } catch {
          reject(new ForkdError(res.statusCode === 401 ? 'ERR_UNAUTHORIZED' : 'ERR_VALIDATION', `exec refused: HTTP ${res.statusCode}`));
        }
      });
    });
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'start', cmd: command, ...(env.length ? { env } : {}), ...(workingDir ? { workingDir } : {}) }));
      process.stdin.on('data', (d: Buffer) => ws.send(d, { binary: true }));
      process.stdin.on('end', () => ws.send(JSON.stringify({ type: 'stdin-end' })));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        (data[0] === 2 ? process.stderr : process.stdout).write(data.subarray(1));
        return;
      }
      const msg = JSON.parse(data.toString()) as { exit?: number } & Partial<ErrorBody>;
      if (typeof msg.exit === 'number') exitCode = msg.exit;
      else if (msg.error) reject(ForkdError.fromJSON(msg as ErrorBody));
    });
    ws.on('error', (err) => reject(new ForkdError('ERR_HOST_UNAVAILABLE', `exec connection failed: ${err.message}`)));
    ws.on('close', () => { process.stdin.pause(); resolve(exitCode); });
  });
}
