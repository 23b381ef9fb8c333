// Pull-based byte reader over an async stream of chunks: exact reads for
// headers, chunked pass-through for bodies, no copying of large data.

export type ByteSource = AsyncIterable<Uint8Array | string> | NodeJS.ReadableStream | Iterable<Uint8Array> | Uint8Array;

async function* fromSync(chunks: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

export function toChunks(source: ByteSource): AsyncIterator<Buffer> {
  let iterable = source as AsyncIterable<Uint8Array | string>;
  if (source instanceof Uint8Array) iterable = fromSync([source]);
  else if (typeof iterable[Symbol.asyncIterator] !== 'function') {
    if (typeof (source as Iterable<Uint8Array>)[Symbol.iterator] !== 'function') throw new TypeError('source is not a byte stream');
    iterable = fromSync(source as Iterable<Uint8Array>);
  }
  const it = iterable[Symbol.asyncIterator]();
  return {
    async next(): Promise<IteratorResult<Buffer>> {
      for (;;) {
        const r = await it.next();
        if (r.done) return { done: true, value: undefined };
        const v = r.value;
        const buf = typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        if (buf.length > 0) return { done: false, value: buf };
      }
    },
    async return(): Promise<IteratorResult<Buffer>> {
      await it.return?.();
      return { done: true, value: undefined };
    },
  };
}

export class ByteReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private ended = false;
  /** Bytes handed out so far (position in the stream). */
  position = 0;

  constructor(private readonly chunks: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.chunks.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    this.pending.push(r.value);
    this.pendingBytes += r.value.length;
    return true;
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    while (this.pendingBytes < n) if (!(await this.fill())) break;
    const take = Math.min(n, this.pendingBytes);
    const all = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    const out = all.subarray(0, take);
    const rest = all.subarray(take);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    this.position += take;
    return out;
  }

  /** Up to `max` bytes from what is buffered or the next chunk; empty at the end. */
  async readSome(max: number): Promise<Buffer> {
    if (this.pendingBytes === 0 && !(await this.fill())) return Buffer.alloc(0);
    const head = this.pending[0] as Buffer;
    const take = Math.min(max, head.length);
    const out = head.subarray(0, take);
    if (take === head.length) this.pending.shift();
    else this.pending[0] = head.subarray(take);
    this.pendingBytes -= take;
    this.position += take;
    return out;
  }

  /** Discards n bytes; returns how many were actually there. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const got = await this.readSome(Math.min(left, 1 << 20));
      if (got.length === 0) break;
      left -= got.length;
    }
    return n - left;
  }

  async close(): Promise<void> {
    await this.chunks.return?.();
  }
}
