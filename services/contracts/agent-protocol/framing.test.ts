import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, type Frame } from './framing.js';
import { LIMITS } from './limits.js';

function collect(limits = {}) {
  const frames: Frame[] = [];
  const errors: string[] = [];
  const dec = new FrameDecoder((f) => frames.push(f), (e) => errors.push(e.message), limits);
  return { dec, frames, errors };
}

function rawFrame(frameLen: number, headerLen: number, rest: Buffer): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(frameLen, 0);
  b.writeUInt32BE(headerLen, 4);
  return Buffer.concat([b, rest]);
}

describe('framing', () => {
  it('round-trips headers and payloads, many frames in one chunk', () => {
    const { dec, frames, errors } = collect();
    const a = encodeFrame({ t: 'req', id: 1, method: 'ping', params: {} });
    const b = encodeFrame({ t: 'data', id: 1, ch: 'out' }, Buffer.from('héllo'));
    dec.push(Buffer.concat([a, b, a]));
    expect(errors).toEqual([]);
    expect(frames.map((f) => f.header['t'])).toEqual(['req', 'data', 'req']);
    expect(frames[1]!.payload.toString()).toBe('héllo');
  });

  it('handles byte-by-byte delivery', () => {
    const { dec, frames, errors } = collect();
    const bytes = Buffer.concat([encodeFrame({ t: 'res', id: 7, result: { x: 'ü'.repeat(100) } }), encodeFrame({ t: 'data', id: 2, ch: 'err' }, randomBytes(1000))]);
    for (const byte of bytes) dec.push(Buffer.from([byte]));
    expect(errors).toEqual([]);
    expect(frames).toHaveLength(2);
    expect(frames[1]!.payload).toHaveLength(1000);
  });

  it('waits on truncated frames without emitting or failing', () => {
    const { dec, frames, errors } = collect();
    const f = encodeFrame({ t: 'res', id: 1, result: {} });
    dec.push(f.subarray(0, f.length - 1));
    expect(frames).toEqual([]);
    expect(errors).toEqual([]);
    expect(dec.pendingBytes).toBe(f.length - 1);
    dec.push(f.subarray(f.length - 1));
    expect(frames).toHaveLength(1);
    expect(dec.pendingBytes).toBe(0);
  });

  it('rejects a huge length before buffering anything', () => {
    const { dec, errors } = collect();
    dec.push(rawFrame(0xffffffff, 10, Buffer.alloc(0)));
    expect(errors[0]).toMatch(/exceeds limit/);
    expect(dec.failed).toBe(true);
    expect(dec.pendingBytes).toBe(0);
  });

  it('rejects an oversize header, a header longer than its frame and a tiny header', () => {
    for (const [fl, hl] of [
      [LIMITS.maxHeaderBytes + 10, LIMITS.maxHeaderBytes + 1],
      [10, 20],
      [10, 0],
    ] as const) {
      const { dec, errors } = collect();
      dec.push(rawFrame(fl, hl, Buffer.alloc(0)));
      expect(errors).toHaveLength(1);
    }
  });

  it('rejects malformed JSON, non-object JSON and invalid UTF-8', () => {
    for (const header of [Buffer.from('{"t":'), Buffer.from('[1,2]'), Buffer.from('null'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]) {
      const { dec, errors, frames } = collect();
      dec.push(rawFrame(4 + header.length, header.length, header));
      expect(frames).toEqual([]);
      expect(errors).toHaveLength(1);
    }
  });

  it('enforces smaller custom limits on payloads', () => {
    const { dec, errors } = collect({ maxPayloadBytes: 10 });
    dec.push(encodeFrame({ t: 'data', id: 1, ch: 'out' }, Buffer.alloc(100)));
    expect(errors[0]).toMatch(/exceeds limit/);
  });

  it('is dead after a fault until reset', () => {
    const { dec, errors, frames } = collect();
    dec.push(rawFrame(5, 1, Buffer.alloc(1)));
    dec.push(encodeFrame({ t: 'res', id: 1, result: {} }));
    expect(errors).toHaveLength(1);
    expect(frames).toHaveLength(0);
    dec.reset();
    dec.push(encodeFrame({ t: 'res', id: 1, result: {} }));
    expect(frames).toHaveLength(1);
  });

  it('reports handler exceptions instead of throwing them', () => {
    const errors: string[] = [];
    const dec = new FrameDecoder(
      () => {
        throw new Error('boom');
      },
      (e) => errors.push(e.message),
    );
    expect(() => dec.push(encodeFrame({ t: 'res', id: 1, result: {} }))).not.toThrow();
    expect(errors[0]).toMatch(/boom/);
  });

  it('never throws on random bytes, whatever the chunking', () => {
    for (let i = 0; i < 300; i++) {
      const { dec } = collect();
      const junk = randomBytes(1 + Math.floor(Math.random() * 4000));
      let off = 0;
      expect(() => {
        while (off < junk.length) {
          const n = 1 + Math.floor(Math.random() * 300);
          dec.push(junk.subarray(off, off + n));
          off += n;
        }
      }).not.toThrow();
      // Random lengths are almost always far above the limit or wait for more bytes.
      expect(dec.pendingBytes).toBeLessThanOrEqual(8 + LIMITS.maxHeaderBytes + LIMITS.maxPayloadBytes);
    }
  });

  it('refuses to encode oversize frames', () => {
    expect(() => encodeFrame({ t: 'data' }, Buffer.alloc(LIMITS.maxPayloadBytes + 1))).toThrow(/exceeds/);
  });
});
