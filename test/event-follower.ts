// A client of GET /v1/events for tests: reads NDJSON or SSE as it arrives and
// lets a test wait (bounded) for the event it expects.
import type { ForkdEvent } from '../services/contracts/events/index.js';
import type { Stack } from './harness.js';

export class EventFollower {
  readonly events: ForkdEvent[] = [];
  /** SSE ids, in order (what a reconnect would send as Last-Event-ID). */
  readonly sseIds: string[] = [];
  ended = false;
  private readonly ac = new AbortController();
  private wake: (() => void)[] = [];
  private done: Promise<void> = Promise.resolve();

  static async open(stack: Stack, opts: { key?: string; query?: string; sse?: boolean; lastEventId?: string } = {}): Promise<EventFollower> {
    const f = new EventFollower();
    const headers: Record<string, string> = { accept: opts.sse ? 'text/event-stream' : 'application/x-ndjson' };
    if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
    const res = await stack.api(`/v1/events${opts.query ?? ''}`, { ...(opts.key === undefined ? {} : { key: opts.key }), headers, signal: f.ac.signal });
    if (res.status !== 200) throw new Error(`GET /v1/events: HTTP ${res.status}: ${await res.text()}`);
    f.done = f.pump(res, opts.sse ?? false);
    return f;
  }

  private async pump(res: Response, sse: boolean): Promise<void> {
    let buf = '';
    const sep = sse ? '\n\n' : '\n';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(chunk).toString('utf8');
        let i: number;
        while ((i = buf.indexOf(sep)) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + sep.length);
          if (!sse) { if (block.trim()) this.events.push(JSON.parse(block) as ForkdEvent); continue; }
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          const id = block.split('\n').find((l) => l.startsWith('id: '));
          if (id) this.sseIds.push(id.slice(4));
          if (data) this.events.push(JSON.parse(data.slice(6)) as ForkdEvent);
        }
        for (const w of this.wake.splice(0)) w();
      }
    } catch {
      // closed by close()
    } finally {
      this.ended = true;
      for (const w of this.wake.splice(0)) w();
    }
  }

  /** The first event matching, waiting for it up to `maxMs` (then throws, listing what came). */
  async waitFor(pred: (e: ForkdEvent) => boolean, maxMs = 300_000): Promise<ForkdEvent> {
    const deadline = Date.now() + maxMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (this.ended || Date.now() > deadline) throw new Error(`event not seen; got: ${this.events.map((e) => `${e.type}/${e.action}/${e.actor.id}`).join(', ')}`);
      await new Promise<void>((r) => { this.wake.push(r); setTimeout(r, 1000).unref(); });
    }
  }

  /** Resolves when the server ended the stream (an `until` in the past). */
  finished(): Promise<void> {
    return this.done;
  }

  async close(): Promise<void> {
    this.ac.abort();
    await this.done;
  }
}
