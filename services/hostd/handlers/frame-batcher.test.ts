import { describe, expect, it } from 'vitest';
import { FrameBatcher } from './frame-batcher.js';

function sink(fail = false) {
  const frames: [string, string][] = [];
  return {
    frames,
    write: async (kind: string, data: Buffer | string) => {
      await new Promise((r) => setTimeout(r, 1));
      if (fail) throw new Error('redis down');
      frames.push([kind, data.toString()]);
    },
  };
}

describe('FrameBatcher', () => {
  it('joins what arrives together, splits at a change of kind, keeps order', async () => {
    const s = sink();
    const b = new FrameBatcher<string>(s);
    await b.add('stdout', 'a\n');
    await b.add('stdout', 'b\n');
    await b.add('stderr', 'c\n');
    await b.add('stdout', 'd\n');
    await b.flush();
    expect(s.frames).toEqual([['stdout', 'a\nb\n'], ['stderr', 'c\n'], ['stdout', 'd\n']]);
  });

  it('writes on its own once the event loop turns, and at 64 KiB', async () => {
    const s = sink();
    const b = new FrameBatcher<string>(s);
    await b.add('stdout', 'x');
    await new Promise((r) => setTimeout(r, 20));
    expect(s.frames).toEqual([['stdout', 'x']]);
    const line = 'y'.repeat(1023) + '\n';
    for (let i = 0; i < 64; i++) await b.add('stdout', line);
    expect(s.frames).toHaveLength(2);
    expect(s.frames[1]![1].length).toBe(64 * 1024);
    await b.flush();
    expect(s.frames).toHaveLength(2);
  });

  it('reports a failed write at the next flush', async () => {
    const b = new FrameBatcher<string>(sink(true));
    await b.add('stdout', 'x');
    await expect(b.flush()).rejects.toThrow('redis down');
  });
});
