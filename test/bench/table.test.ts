import { describe, expect, it } from 'vitest';
import { cellText, formatMarkdownTable, formatNumber, formatTable } from './table.js';

describe('formatTable', () => {
  it('pads text left, numbers right, and draws a rule', () => {
    const out = formatTable(['mode', 'p50 ms', 'note'], [
      ['cold boot', 12345, 'slow'],
      ['fork', 812, null],
    ]);
    expect(out).toBe(
      [
        'mode       p50 ms  note',
        '---------  ------  ----',
        'cold boot   12345  slow',
        'fork          812  -',
        '',
      ].join('\n'),
    );
  });

  it('shows missing and non-finite values as "-" and keeps the column numeric', () => {
    const out = formatTable(['a', 'b'], [['x', NaN], ['yy', 3.25]]);
    expect(out.split('\n')[2]).toBe('x     -');
    expect(out.split('\n')[3]).toBe('yy  3.3');
  });

  it('formats numbers: integers as is, small ones with a decimal, large ones rounded', () => {
    expect(formatNumber(42)).toBe('42');
    expect(formatNumber(3.14159)).toBe('3.1');
    expect(formatNumber(1234.56)).toBe('1235');
    expect(cellText(undefined)).toBe('-');
  });
});

describe('formatMarkdownTable', () => {
  it('right-aligns numeric columns and escapes pipes', () => {
    expect(formatMarkdownTable(['mode', 'ms'], [['a|b', 1], ['c', 22]])).toBe('| mode | ms |\n|---|---:|\n| a\\|b | 1 |\n| c | 22 |\n');
  });
});
