// Byte streams between the API and hostd (exec stdio, log follow), carried by
// Redis streams so that they cross hosts like the jobs do. A session has two
// Redis streams: `…:out` (hostd → API: stdout, stderr, exit, error, end) and
// `…:in` (API → hostd: stdin, stdin-end, resize, cancel). Both expire when idle, so an
// abandoned session cleans itself up.
import type { Redis } from 'ioredis';

export type OutKind = 'stdout' | 'stderr' | 'exit' | 'error' | 'end';
/** `resize` carries JSON `{"rows":N,"cols":N}` for the session's terminal. */
export type InKind = 'stdin' | 'stdin-end' | 'cancel' | 'resize';

export interface Frame<K extends string> {
  kind: K;
  data: Buffer;
}

/** One frame's data, at most; writers split larger chunks. */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Redis trims a stream beyond this many frames (a slow reader loses the oldest output, never memory). */
const MAX_STREAM_FRAMES = 10_000;
/** A session with no traffic for this long is dropped by Redis. */
const SESSION_TTL_SEC = 600;

export function sessionKeys(session: string): { out: string; in: string } {
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(session)) throw new Error(`invalid relay session id ${JSON.stringify(session)}`);
  return { out: `forkd:io:${session}:out`, in: `forkd:io:${session}:in` };
}

export class RelayWriter<K extends string> {
  constructor(private readonly redis: Redis, private readonly key: string) {}

  async write(kind: K, data: Buffer | string = Buffer.alloc(0)): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off === 0 || off < buf.length; off += MAX_FRAME_BYTES) {
      await this.redis.xadd(this.key, 'MAXLEN', '~', String(MAX_STREAM_FRAMES), '*', 'k', kind, 'd', buf.subarray(off, off + MAX_FRAME_BYTES));
      if (buf.length === 0) break;
    }
    await this.redis.expire(this.key, SESSION_TTL_SEC);
  }
}

/**
 * Reads frames as they arrive. Needs a connection of its own (XREAD BLOCK
 * holds it); the caller closes it. Ends when `signal` aborts.
 */
export async function* readFrames<K extends string>(redis: Redis, key: string, signal: AbortSignal, blockMs = 1000): AsyncGenerator<Frame<K>> {
  let last = '0-0';
  while (!signal.aborted) {
    const res = (await redis.xreadBuffer('COUNT', 100, 'BLOCK', blockMs, 'STREAMS', key, last)) as [Buffer, [Buffer, Buffer[]][]][] | null;
    if (!res) continue;
    for (const [, entries] of res) {
      for (const [id, fields] of entries) {
        last = id.toString();
        let kind = '';
        let data: Buffer = Buffer.alloc(0);
        for (let i = 0; i + 1 < fields.length; i += 2) {
          const name = fields[i]!.toString();
          if (name === 'k') kind = fields[i + 1]!.toString();
          else if (name === 'd') data = fields[i + 1]!;
        }
        yield { kind: kind as K, data };
      }
    }
  }
}

export async function deleteSession(redis: Redis, session: string): Promise<void> {
  const k = sessionKeys(session);
  await redis.del(k.out, k.in);
}
