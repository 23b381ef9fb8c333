import { describe, expect, it } from 'vitest';
import { formatLogLine, LogLineSplitter, parseLogLine, type LogRecord } from './log-format.js';

describe('log format', () => {
  it('round-trips a record', () => {
    const rec: LogRecord = { time: Date.UTC(2026, 0, 2, 3, 4, 5, 678), stream: 'stderr', partial: false, text: 'a b  c' };
    const line = formatLogLine(rec);
    expect(line).toBe('2026-01-02T03:04:05.678Z stderr F a b  c\n');
    expect(parseLogLine(line.slice(0, -1))).toEqual(rec);
  });

  it('parses CRI lines with nanoseconds and rejects junk', () => {
    expect(parseLogLine('2016-10-06T00:17:09.669794202Z stdout P x')?.partial).toBe(true);
    expect(parseLogLine('garbage')).toBeNull();
    expect(parseLogLine('2016-10-06T00:17:09Z stdin F x')).toBeNull();
  });

  it('splits chunks into lines, cuts long lines, flushes the rest as partial', () => {
    const out: LogRecord[] = [];
    const s = new LogLineSplitter('stdout', (r) => out.push(r), () => 0, 8);
    s.push(Buffer.from('ab\ncd'));
    s.push(Buffer.from('ef\n0123456789\nlast'));
    s.flush();
    expect(out.map((r) => [r.text, r.partial])).toEqual([
      ['ab', false],
      ['cdef', false],
      ['01234567', true],
      ['89', false],
      ['last', true],
    ]);
  });
});
