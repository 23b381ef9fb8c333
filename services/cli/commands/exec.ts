import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import type { Command } from '../command.js';
import { runSocket, terminalSize } from '../interactive.js';
import { pipeNdjson } from '../streams.js';

export const execCommand: Command = {
  path: ['exec'],
  summary: 'Run a command in a running container; -i streams this terminal\'s stdin to it, -t gives it a terminal',
  usage: 'forkd exec [-i] [-t] [-u USER] [-e K=V]… [-w DIR] CONTAINER -- CMD…',
  options: {
    interactive: { type: 'boolean', short: 'i' },
    tty: { type: 'boolean', short: 't' },
    user: { type: 'string', short: 'u' },
    env: { type: 'string', short: 'e', multiple: true },
    workdir: { type: 'string', short: 'w' },
  },
  positionals: true,
  async run({ values, positionals }) {
    const [id, ...command] = positionals;
    if (!id || command.length === 0) throw new ForkdError('ERR_VALIDATION', `usage: ${execCommand.usage}`, { field: 'command' });
    const api = ApiClient.fromEnv();
    const env = (values.env as string[] | undefined) ?? [];
    const user = values.user as string | undefined;
    if (!values.interactive && !values.tty && !user) {
      const res = await api.fetch('POST', `/v1/containers/${encodeURIComponent(id)}/exec`, {
        command, ...(env.length ? { env } : {}), ...(values.workdir ? { workingDir: values.workdir } : {}),
      });
      return (await pipeNdjson(res)).exitCode ?? 1;
    }
    return execInteractive(api, id, command, env, values.workdir as string | undefined, { stdin: values.interactive === true, tty: values.tty === true, ...(user ? { user } : {}) });
  },
};

function execInteractive(api: ApiClient, id: string, command: string[], env: string[], workingDir: string | undefined, opts: { stdin: boolean; tty: boolean; user?: string }): Promise<number> {
  // The command and env (often secrets) go in the first message, not the URL: URLs end up in logs.
  const size = opts.tty ? terminalSize() : undefined;
  return runSocket(api, `/v1/containers/${encodeURIComponent(id)}/exec`, {
    cmd: command,
    ...(env.length ? { env } : {}),
    ...(workingDir ? { workingDir } : {}),
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.tty ? { tty: true, ...(size ?? {}) } : {}),
  }, opts);
}
