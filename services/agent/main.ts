// The forkd guest agent's entry point. Started by the guest's init (and
// restarted when it exits); serves the agent protocol on the virtio-serial port
// named org.forkd.agent.0. For tests on the host, FORKD_AGENT_SOCKET=/path makes
// it *listen* on that unix socket instead (see server.ts).

import { rmSync } from 'node:fs';
import { AGENT_VERSION, loadConfig } from './config.js';
import type { Log } from './handler.js';
import { createAgent } from './handlers.js';
import { servePort, serveSocket } from './server.js';
import { protectAgent } from './protect.js';

// Blocking reads/writes on the port hold pool threads; keep room for fs work.
// Read by libuv when the pool first starts, which is after this line.
process.env['UV_THREADPOOL_SIZE'] ??= '8';

const log: Log = (msg, fields) => {
  process.stderr.write(`${new Date().toISOString()} forkd-agent: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
};

async function main(): Promise<void> {
  const cfg = loadConfig();
  const agent = await createAgent(cfg, log);
  const opts = { agentVersion: AGENT_VERSION, handlers: agent.handlers, log };
  if (cfg.socketPath) {
    const path = cfg.socketPath;
    const server = await serveSocket(path, opts);
    log('listening', { socket: path, root: cfg.root, version: AGENT_VERSION });
    const stop = () => {
      server.close();
      rmSync(path, { force: true });
      process.exit(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    return;
  }
  log('starting', { version: AGENT_VERSION, root: cfg.root });
  await protectAgent(cfg.cgroupRoot, log);
  await servePort(cfg, opts, log);
}

// A bug in one handler must not take the channel down; init restarts us only as a last resort.
process.on('uncaughtException', (e) => log('uncaught exception', { error: e.stack ?? String(e) }));
process.on('unhandledRejection', (e) => log('unhandled rejection', { error: (e as Error)?.stack ?? String(e) }));

main().catch((e: unknown) => {
  log('fatal', { error: (e as Error)?.stack ?? String(e) });
  process.exit(1);
});
