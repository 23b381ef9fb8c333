import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLogLine } from '../contracts/agent-protocol/index.js';
import { LogWriter, selectLines, streamLog } from './logs.js';

describe('container logs', () => {
  it('writes CRI lines per stream and flushes partial output on close', () => {
    const d = mkdtempSync(join(tmpdir(), 'forkd-log-'));
    try {
      let t = Date.UTC(2026, 0, 1);
      const w = new LogWriter(join(d, 'log'), () => t++);
      w.stdout.push(Buffer.from('one\ntw'));
      w.stderr.push(Buffer.from('err\n'));
      w.stdout.push(Buffer.from('o\nrest'));
      w.close();
      const lines = readFileSync(join(d, 'log'), 'utf8').trimEnd().split('\n').map((l) => parseLogLine(l));
      expect(lines.map((r) => [r?.stream, r?.partial, r?.text])).toEqual([
        ['stdout', false, 'one'],
        ['stderr', false, 'err'],
        ['stdout', false, 'two'],
        ['stdout', true, 'rest'],
      ]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('selects tail and since', () => {
    const text = ['2026-01-01T00:00:01.000Z stdout F a', '2026-01-01T00:00:02.000Z stdout F b', '2026-01-01T00:00:03.000Z stderr F c', ''].join('\n');
    expect(selectLines(text, {})).toHaveLength(3);
    expect(selectLines(text, { tail: 1 })).toEqual(['2026-01-01T00:00:03.000Z stderr F c']);
    expect(selectLines(text, { tail: 0 })).toEqual([]);
    expect(selectLines(text, { sinceMs: Date.UTC(2026, 0, 1, 0, 0, 2) })).toHaveLength(2);
  });

  it('follows appended lines until the writer closes, and stops on abort', async () => {
    const d = mkdtempSync(join(tmpdir(), 'forkd-log-'));
    try {
      const w = new LogWriter(join(d, 'log'));
      w.stdout.push(Buffer.from('before\n'));
      const got: string[] = [];
      const done = streamLog(join(d, 'log'), { follow: true }, w, async (b) => void got.push(b.toString()), new AbortController().signal);
      await new Promise((r) => setTimeout(r, 20));
      w.stdout.push(Buffer.from('after 1\n'));
      await new Promise((r) => setTimeout(r, 20));
      w.stderr.push(Buffer.from('after 2\n'));
      w.close();
      expect(await done).toBe(3);
      expect(got.join('')).toMatch(/before\n.*after 1\n.*after 2\n$/s);

      const w2 = new LogWriter(join(d, 'log2'));
      const ac = new AbortController();
      const p = streamLog(join(d, 'log2'), { follow: true }, w2, async () => undefined, ac.signal);
      setTimeout(() => ac.abort(), 20);
      expect(await p).toBe(0);
      w2.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
