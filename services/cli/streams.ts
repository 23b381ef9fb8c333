// Reading the API's NDJSON streams (logs, exec): stdout/stderr frames go to the
// process's own, `{"exit":N}` and `{"error":…}` end the stream.
import { ForkdError, type ErrorBody } from '../contracts/errors.js';
import type { ApiResponse } from './api-client.js';

export interface StreamEnd {
  exitCode: number | null;
}

export async function pipeNdjson(res: ApiResponse): Promise<StreamEnd> {
  const decoder = new TextDecoder();
  let buffered = '';
  let exitCode: number | null = null;
  const handle = async (line: string): Promise<void> => {
    if (!line.trim()) return;
    const msg = JSON.parse(line) as { stream?: 'stdout' | 'stderr'; data?: string; exit?: number } & Partial<ErrorBody>;
    if (msg.stream && msg.data !== undefined) {
      const out = msg.stream === 'stderr' ? process.stderr : process.stdout;
      const buf = Buffer.from(msg.data, 'base64');
      if (!out.write(buf)) await new Promise((r) => out.once('drain', r));
    } else if (typeof msg.exit === 'number') {
      exitCode = msg.exit;
    } else if (msg.error) {
      throw ForkdError.fromJSON(msg as ErrorBody);
    }
  };
  for await (const chunk of res.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      await handle(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  }
  await handle(buffered);
  return { exitCode };
}
