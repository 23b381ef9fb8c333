// The API end of a relay session (contracts/stream-relay.ts): start the host's
// job, read its frames from Redis and hand them to an HTTP response or a
// WebSocket; forward stdin and cancellation the other way.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ForkdError } from '../contracts/errors.js';
import { RelayWriter, deleteSession, readFrames, sessionKeys, type Frame, type InKind, type OutKind } from '../contracts/stream-relay.js';

export function newSessionId(): string {
  return randomBytes(12).toString('hex');
}

export interface RelaySession {
  id: string;
  frames: AsyncGenerator<Frame<OutKind>>;
  input: RelayWriter<InKind>;
  /** Tells hostd to stop, ends the frames, and drops the session's keys. */
  close(): Promise<void>;
}

/**
 * Opens a session and starts `job`. Frames end after `end`; if the job fails
 * before hostd wrote anything, its error becomes an `error` frame. `lease`
 * (the stream's slot, streams/stream-limiter.ts) is given back on close.
 */
export function openRelay(redis: Redis, start: (session: string) => Promise<unknown>, lease?: { release(): Promise<void> }): RelaySession {
  const id = newSessionId();
  const keys = sessionKeys(id);
  const reader = redis.duplicate();
  const stop = new AbortController();
  const input = new RelayWriter<InKind>(redis, keys.in);
  // Resolves only if the job fails; a job that succeeds ends its frames with `end` itself.
  const failed = new Promise<ForkdError>((resolve) => {
    start(id).catch((err: unknown) => resolve(err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String(err))));
  });

  async function* frames(): AsyncGenerator<Frame<OutKind>> {
    const source = readFrames<OutKind>(reader, keys.out, stop.signal, 500);
    while (!stop.signal.aborted) {
      const pending = source.next();
      pending.catch(() => {}); // close() disconnects the reader under a pending XREAD
      const r = await Promise.race([pending, failed]);
      if (r instanceof ForkdError) {
        yield { kind: 'error', data: Buffer.from(JSON.stringify(r.toJSON())) };
        return;
      }
      if (r.done) return;
      yield r.value;
      if (r.value.kind === 'end' || r.value.kind === 'error') return;
    }
  }

  return {
    id,
    frames: frames(),
    input,
    close: async () => {
      // A lease that cannot be released (Redis gone) expires by itself.
      await lease?.release().catch(() => {});
      // hostd may have finished already; the session keys expire either way.
      await input.write('cancel').catch(() => {});
      stop.abort();
      reader.disconnect();
      // Give hostd a moment to see the cancel before its keys go.
      setTimeout(() => void deleteSession(redis, id).catch(() => {}), 5_000).unref();
    },
  };
}
