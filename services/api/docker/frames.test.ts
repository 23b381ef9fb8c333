import { describe, expect, it } from 'vitest';
import { frame, readFrames } from './frames.js';

describe('the multiplexed stream', () => {
  it('puts an 8-byte header with the stream and the big-endian size before each chunk', () => {
    const f = frame('stdout', Buffer.from('hi\n'), false);
    expect([...f.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0, 0, 0, 3]);
    expect(f.subarray(8).toString()).toBe('hi\n');
    expect(frame('stderr', Buffer.alloc(300), false).subarray(0, 8)).toEqual(Buffer.from([2, 0, 0, 0, 0, 0, 1, 44]));
  });

  it('sends raw bytes with a TTY', () => {
    expect(frame('stdout', Buffer.from('raw'), true).toString()).toBe('raw');
  });

  it('reads back whole frames and keeps a partial one for later', () => {
    const both = Buffer.concat([frame('stdout', Buffer.from('a'), false), frame('stderr', Buffer.from('bc'), false)]);
    const { frames, rest } = readFrames(Buffer.concat([both, Buffer.from([1, 0, 0])]));
    expect(frames.map((f) => [f.stream, f.data.toString()])).toEqual([[1, 'a'], [2, 'bc']]);
    expect(rest.length).toBe(3);
  });
});
