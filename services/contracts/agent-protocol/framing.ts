// Byte framing. Every message on the wire is one frame:
//
//   u32be frameLen | u32be headerLen | header: headerLen bytes of UTF-8 JSON | payload
//
// frameLen counts every byte after itself (4 + headerLen + payload length). The
// header is a JSON object (see messages.ts); the payload is raw bytes and is
// non-empty only for stream chunks. The decoder never trusts its input: lengths
// are checked against the limits before anything is buffered, JSON is parsed in
// a try, and after the first fault the decoder is dead until reset(): a byte
// stream cannot be resynchronised reliably, the connection has to start over.

import { LIMITS } from './limits.js';

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export interface Frame {
  header: Record<string, unknown>;
  payload: Buffer;
}

export interface FrameLimits {
  maxHeaderBytes: number;
  maxPayloadBytes: number;
}

const DEFAULT_LIMITS: FrameLimits = { maxHeaderBytes: LIMITS.maxHeaderBytes, maxPayloadBytes: LIMITS.maxPayloadBytes };

export function encodeFrame(header: object, payload?: Uint8Array, limits: FrameLimits = DEFAULT_LIMITS): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const plen = payload?.byteLength ?? 0;
  if (json.length > limits.maxHeaderBytes) throw new FrameError(`header of ${json.length} bytes exceeds ${limits.maxHeaderBytes}`);
  if (plen > limits.maxPayloadBytes) throw new FrameError(`payload of ${plen} bytes exceeds ${limits.maxPayloadBytes}`);
  const out = Buffer.allocUnsafe(8 + json.length + plen);
  out.writeUInt32BE(4 + json.length + plen, 0);
  out.writeUInt32BE(json.length, 4);
  json.copy(out, 8);
  if (payload && plen > 0) out.set(payload, 8 + json.length);
  return out;
}

/**
 * Incremental decoder. Feed it whatever the transport delivers (one byte at a
 * time or megabytes at once); it calls onFrame for each complete frame and
 * onError once for the first fault. push() never throws, and exceptions thrown
 * by onFrame are reported through onError too, so a bad message can never
 * escape into a socket's 'data' handler.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need: { frameLen: number; headerLen: number } | null = null;
  private dead = false;
  private readonly limits: FrameLimits;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onError: (err: FrameError) => void,
    limits: Partial<FrameLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** True once a fault was reported; further input is ignored until reset(). */
  get failed(): boolean {
    return this.dead;
  }

  /** Bytes of an incomplete frame held right now (0 between frames). */
  get pendingBytes(): number {
    return this.buffered + (this.need === null ? 0 : 8);
  }

  reset(): void {
    this.chunks = [];
    this.buffered = 0;
    this.need = null;
    this.dead = false;
  }

  push(chunk: Uint8Array): void {
    if (this.dead || chunk.byteLength === 0) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.chunks.push(buf);
    this.buffered += buf.length;
    try {
      this.drain();
    } catch (err) {
      this.fail(err instanceof FrameError ? err : new FrameError(`frame handler failed: ${(err as Error)?.message ?? String(err)}`));
    }
  }

  private fail(err: FrameError): void {
    if (this.dead) return;
    this.dead = true;
    this.chunks = [];
    this.buffered = 0;
    this.need = null;
    try {
      this.onError(err);
    } catch {
      // The error handler's own faults must not escape either.
    }
  }

  private drain(): void {
    while (!this.dead) {
      if (this.need === null) {
        if (this.buffered < 8) return;
        const head = this.take(8);
        const frameLen = head.readUInt32BE(0);
        const headerLen = head.readUInt32BE(4);
        const maxFrame = 4 + this.limits.maxHeaderBytes + this.limits.maxPayloadBytes;
        if (frameLen > maxFrame) throw new FrameError(`frame length ${frameLen} exceeds limit ${maxFrame}`);
        if (headerLen < 2) throw new FrameError(`header length ${headerLen} too small`);
        if (headerLen > this.limits.maxHeaderBytes) throw new FrameError(`header length ${headerLen} exceeds limit ${this.limits.maxHeaderBytes}`);
        if (headerLen > frameLen - 4) throw new FrameError(`header length ${headerLen} exceeds frame length ${frameLen}`);
        const payloadLen = frameLen - 4 - headerLen;
        if (payloadLen > this.limits.maxPayloadBytes) throw new FrameError(`payload length ${payloadLen} exceeds limit ${this.limits.maxPayloadBytes}`);
        this.need = { frameLen, headerLen };
      }
      const body = this.need.frameLen - 4;
      if (this.buffered < body) return;
      const { headerLen } = this.need;
      this.need = null;
      const bytes = this.take(body);
      const header = parseHeader(bytes.subarray(0, headerLen));
      // Copy the payload so a consumer keeping it does not pin the whole chunk.
      const payload = Buffer.from(bytes.subarray(headerLen));
      this.onFrame({ header, payload });
    }
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseHeader(bytes: Buffer): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new FrameError('header is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FrameError(`header is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FrameError('header is not a JSON object');
  return value as Record<string, unknown>;
}
