// The client's stdin on a hijacked connection (attach -i, exec -i): the bytes
// that came after the request (`upgradeRest`, upgrade.ts), then the socket's.
// Reading starts at once, before the process's session exists (`docker run`
// attaches before the start, and `echo x | docker run -i` may have sent
// everything and half-closed by then): bytes wait here, in order, until
// pipeTo() hands them on. The client's half-close (the socket's 'end') is the
// process's stdin EOF.
import type { FastifyRequest } from 'fastify';
import type { InteractiveSession } from '../attach/interactive.js';
import type { StreamOut } from './hijack.js';

/** Writes queued to the session beyond which the socket is paused (it resumes as they go). */
const MAX_QUEUED_WRITES = 64;

export interface StdinReader {
  /** Forwards what came so far, then everything that comes, to the session. */
  pipeTo(session: Pick<InteractiveSession, 'write' | 'endStdin'>): void;
}

type Item = Buffer | 'end';

export function readStdin(request: FastifyRequest, out: StreamOut, onError: (err: unknown) => void): StdinReader {
  const pending: Item[] = [];
  let target: Pick<InteractiveSession, 'write' | 'endStdin'> | undefined;
  let chain = Promise.resolve();
  let queued = 0;
  const forward = (item: Item) => {
    const t = target!;
    queued++;
    if (queued > MAX_QUEUED_WRITES) out.socket.pause();
    chain = chain
      .then(() => (item === 'end' ? t.endStdin() : t.write(item)))
      .catch(onError)
      .finally(() => { if (--queued <= MAX_QUEUED_WRITES / 2 && out.socket.isPaused()) out.socket.resume(); });
  };
  const take = (item: Item) => (target ? forward(item) : pending.push(item));
  const rest = request.raw.upgradeRest;
  if (rest && rest.length > 0) take(rest);
  out.socket.on('data', (d: Buffer) => take(d));
  out.socket.once('end', () => take('end'));
  return {
    pipeTo(session) {
      target = session;
      for (const item of pending.splice(0)) forward(item);
    },
  };
}
