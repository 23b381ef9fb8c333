import type { Command } from '../command.js';

// The server (ioredis, fastify, Prisma, libvirt) loads only when it runs: the
// command list is imported by every CLI start, `forkd run` included.
const runServer: typeof import('../server-process.js').runServer = async (opts) => (await import('../server-process.js')).runServer(opts);

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
