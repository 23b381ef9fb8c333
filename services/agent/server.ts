// The two ways the agent serves sessions: on the virtio-serial port (the
// guest), or listening on a unix socket (tests on the host; one session per
// connection, like QEMU's chardev server=on on the host side).

import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AgentConfig } from './config.js';
import type { Log } from './handler.js';
import { PortLink, waitForPort } from './port.js';
import { Session, type SessionOptions } from './session.js';

export async function serveSocket(path: string, opts: SessionOptions): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((socket) => {
    const session = new Session(
      {
        write: (b) => {
          if (!socket.destroyed) socket.write(b);
        },
        end: () => socket.end(),
      },
      opts,
    );
    socket.on('data', (c: Buffer) => session.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => session.end('connection closed'));
  });
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}

export async function servePort(cfg: AgentConfig, opts: SessionOptions, log: Log): Promise<never> {
  const dev = await waitForPort(cfg.sysPorts, cfg.portName, (m) => log(m));
  const link = await PortLink.open(dev);
  const session = new Session(link, opts);
  log('serving', { port: dev, root: cfg.root, processUptimeSec: Number(process.uptime().toFixed(3)) });
  return link.readLoop({ onData: (c) => session.push(c), onHostGone: () => session.reset('host disconnected') });
}
