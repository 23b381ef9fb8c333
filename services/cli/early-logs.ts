// The log stream `forkd run` opens right after its POST, while the VM is
// still being made: the API passes it to hostd at once and hostd waits for the
// create, so the container's first output reaches the terminal as soon as it
// is written, not one long-poll answer, one request and one stream job after
// the create ends. If that stream fails before it wrote anything (a create that
// failed and was retried, an older API that answers a creating container with
// an error), the create's own result decides: on success the logs are opened
// again the usual way.
import type { ApiClient } from './api-client.js';
import { pipeNdjson } from './streams.js';

export class EarlyLogs {
  private readonly abort = new AbortController();
  private wrote = false;
  /** The stream's end: null when it ended cleanly, else its error (caught here: nobody may be listening yet). */
  private readonly ended: Promise<Error | null>;

  constructor(private readonly api: ApiClient, private readonly containerId: string, beforeOutput: () => void) {
    this.ended = (async () => {
      const res = await api.fetch('GET', logsPath(containerId), undefined, { signal: this.abort.signal });
      await pipeNdjson(res, () => {
        this.wrote = true;
        beforeOutput();
      });
      return null;
    })().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  }

  /** The create failed or the command ends early: the stream closes (the API cancels hostd's job). */
  cancel(): void {
    this.abort.abort();
  }

  /** After the create succeeded: waits for the log's end; a stream that failed before writing anything is opened again. */
  async finish(): Promise<void> {
    const err = await this.ended;
    if (err === null) return;
    if (this.wrote || this.abort.signal.aborted) throw err;
    await pipeNdjson(await this.api.fetch('GET', logsPath(this.containerId)));
  }
}

export function logsPath(containerId: string): string {
  return `/v1/containers/${encodeURIComponent(containerId)}/logs?follow=true&format=ndjson`;
}
