import { describe, expect, it } from 'vitest';
import { ndjsonLines } from './streams.js';

async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
  yield* parts;
}

async function lines(body: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of ndjsonLines(body)) out.push(l);
  return out;
}

describe('ndjsonLines', () => {
  it('gives each line once it is whole, skipping blank ones, with a last line that has no newline', async () => {
    expect(await lines(chunks(Buffer.from('{"a":1}\n{"b"'), Buffer.from(':2}\n\n  \n{"c":3}')))).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('keeps a character whose bytes arrive in two chunks whole', async () => {
    const line = Buffer.from('{"name":"café ☕"}\n');
    const cut = line.indexOf(Buffer.from('☕')) + 1; // inside the 3-byte character
    expect(await lines(chunks(line.subarray(0, cut), line.subarray(cut)))).toEqual(['{"name":"café ☕"}']);
  });

  it('gives nothing for an empty body', async () => {
    expect(await lines(chunks())).toEqual([]);
  });
});
