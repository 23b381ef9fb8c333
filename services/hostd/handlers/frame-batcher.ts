// Coalesces many small outputs (log lines) into fewer relay frames: consecutive
// pieces of the same kind are joined until 64 KiB or until the event loop
// turns (what arrived together leaves together), so a long log costs a few
// Redis writes per chunk instead of two per line. Order is kept.

/** What the batcher writes to (RelayWriter has this shape). */
export interface FrameSink<K extends string> {
  write(kind: K, data: Buffer | string): Promise<void>;
}

const MAX_BATCH_BYTES = 64 * 1024;

export class FrameBatcher<K extends string> {
  private kind: K | null = null;
  private parts: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Immediate | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly sink: FrameSink<K>) {}

  /** Queues `text`; resolves at once unless a write had to happen first (kind change, full batch). */
  async add(kind: K, text: string): Promise<void> {
    if (this.kind !== null && kind !== this.kind) await this.flush();
    this.kind = kind;
    this.parts.push(text);
    this.bytes += Buffer.byteLength(text);
    if (this.bytes >= MAX_BATCH_BYTES) return this.flush();
    this.timer ??= setImmediate(() => {
      this.timer = null;
      // A failure here surfaces at the next add() or flush(), which await the same chain.
      this.flush().catch(() => undefined);
    });
  }

  /** Writes what is queued; resolves once everything queued so far is written. */
  flush(): Promise<void> {
    if (this.timer) {
      clearImmediate(this.timer);
      this.timer = null;
    }
    if (this.parts.length > 0) {
      const kind = this.kind!;
      const data = this.parts.join('');
      this.parts = [];
      this.bytes = 0;
      this.chain = this.chain.then(() => this.sink.write(kind, data));
    }
    return this.chain;
  }
}
