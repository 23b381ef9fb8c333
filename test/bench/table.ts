// Plain-text tables for the benchmark's report: columns padded to their widest
// cell, numbers right-aligned, missing values as "-". Also a Markdown variant
// so docs/benchmarks.md can carry the same table.

export type Cell = string | number | null | undefined;

const isNumeric = (c: Cell): boolean => typeof c === 'number' || (typeof c === 'string' && /^[-+]?[\d.,]+(\s*[×x%])?$/.test(c.trim()));

export function cellText(c: Cell): string {
  if (c === null || c === undefined) return '-';
  if (typeof c === 'number') return Number.isFinite(c) ? formatNumber(c) : '-';
  return c;
}

/** Integers as is, small values with one decimal (0.4, 12.5), large ones rounded. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (Number.isInteger(x) || Math.abs(x) >= 100) return String(Math.round(x));
  return x.toFixed(1);
}

/** A text table: header, a rule, rows. Numeric columns are right-aligned, the last column is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const numericCol = headers.map((_, i) => rows.length > 0 && rows.every((r) => r[i] === null || r[i] === undefined || isNumeric(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => {
        const last = i === r.length - 1;
        if (numericCol[i]) return c.padStart(widths[i]!);
        return last ? c : c.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n') + '\n';
}

/** The same table as GitHub Markdown (numeric columns right-aligned). */
export function formatMarkdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const numericCol = headers.map((_, i) => rows.length > 0 && rows.every((r) => r[i] === null || r[i] === undefined || isNumeric(r[i])));
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = [
    `| ${headers.map(esc).join(' | ')} |`,
    `|${headers.map((_, i) => (numericCol[i] ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${headers.map((_, i) => esc(cellText(r[i]))).join(' | ')} |`),
  ];
  return out.join('\n') + '\n';
}
