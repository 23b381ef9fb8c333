// Reading the API's NDJSON streams (logs, exec): stdout/stderr frames go to the
// process's own, `{"exit":N}` and `{"error":…}` end the stream.
import { ForkdError, type ErrorBody } from '../contracts/errors.js';
import type { ApiResponse } from './api-client.js';

export interface StreamEnd {
  exitCode: number | null;
}

/**
 * The non-blank lines of an NDJSON body as they arrive. Decoded as one UTF-8
 * stream, so a character split between two chunks stays whole.
 */
export async function* ndjsonLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) yield line;
    }
  }
  buffered += decoder.decode();
  if (buffered.trim()) yield buffered;
}

/** `beforeOutput` runs once, before the first stdout or stderr bytes are written. */
export async function pipeNdjson(res: ApiResponse, beforeOutput?: () => void): Promise<StreamEnd> {
  let exitCode: number | null = null;
  for await (const line of ndjsonLines(res.body)) {
    const msg = JSON.parse(line) as { stream?: 'stdout' | 'stderr'; data?: string; exit?: number } & Partial<ErrorBody>;
    if (msg.stream && msg.data !== undefined) {
      beforeOutput?.();
      beforeOutput = undefined;
      const out = msg.stream === 'stderr' ? process.stderr : process.stdout;
      const buf = Buffer.from(msg.data, 'base64');
      if (!out.write(buf)) await new Promise((r) => out.once('drain', r));
    } else if (typeof msg.exit === 'number') {
      exitCode = msg.exit;
    } else if (msg.error) {
      throw ForkdError.fromJSON(msg as ErrorBody);
    }
  }
  return { exitCode };
}
