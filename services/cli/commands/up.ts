import type { Command } from '../command.js';
import { runServer } from '../server-process.js';

export const upCommand: Command = {
  path: ['up'],
  summary: 'Run the API and this host\'s hostd in one process (Ctrl-C stops both)',
  usage: 'forkd up [--api-only]',
  options: { 'api-only': { type: 'boolean' } },
  run: ({ values }) => runServer({ api: true, hostd: !values['api-only'] }),
};

export const hostdCommand: Command = {
  path: ['hostd'],
  summary: 'Run only hostd for this host (takes jobs from its queue in REDIS_URL)',
  usage: 'forkd hostd',
  options: {},
  run: () => runServer({ api: false, hostd: true }),
};
