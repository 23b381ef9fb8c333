// port.connect: one TCP connection to 127.0.0.1:<port> in the guest, its bytes
// carried on the call's streams (host→guest on `in`, guest→host on `out`).
// hostd publishes container ports this way, with no guest networking at all:
// containers share the VM's network namespace, so loopback reaches them.

import { connect, type Socket } from 'node:net';
import { AgentError } from '../contracts/agent-protocol/index.js';
import type { Handler } from './handler.js';

export const portConnect: Handler<'port.connect'> = async ({ port }, ctx) => {
  const socket = await open(port, ctx.signal);
  let bytesIn = 0;
  let bytesOut = 0;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const onAbort = (): void => void socket.destroy();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  // Guest → host: pause the socket while waiting for the host's credit.
  socket.on('data', (chunk: Buffer) => {
    bytesOut += chunk.length;
    socket.pause();
    ctx.write('out', chunk).then(
      () => socket.resume(),
      () => socket.destroy(),
    );
  });
  socket.on('error', () => undefined); // 'close' follows and ends the call
  // The guest's server finished: the connection is done (`out` has no half-close of its own).
  socket.on('end', () => void socket.end());
  // Host → guest; the end of `in` is the host client's half-close.
  const pump = (async () => {
    try {
      for await (const chunk of ctx.input) {
        bytesIn += chunk.length;
        if (!socket.write(chunk)) await drained(socket);
        if (socket.destroyed) return;
      }
      if (!socket.destroyed) socket.end();
    } catch {
      socket.destroy();
    }
  })();
  try {
    await closed;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
  void pump;
  return { bytesIn, bytesOut };
};

function open(port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const fail = (e: Error): void => {
      socket.destroy();
      reject(new AgentError('ERR_IO', `connect 127.0.0.1:${port}: ${e.message}`, { errno: (e as NodeJS.ErrnoException).code ?? null }));
    };
    socket.once('error', fail);
    signal.addEventListener('abort', () => fail(new Error('cancelled')), { once: true });
    socket.once('connect', () => {
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
