// Summary statistics for benchmark samples. Percentiles use the nearest-rank
// method (the p-th percentile is the smallest sample with at least p % of the
// samples at or below it), so every reported value is a measured sample, never
// an interpolation between two.

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of `xs` (0 < p ≤ 100); NaN for no samples. */
export function percentile(xs: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const finite = xs.filter((x) => Number.isFinite(x));
  if (finite.length === 0) return NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)]!;
}

export function summarize(xs: readonly number[]): Summary {
  const finite = xs.filter((x) => Number.isFinite(x));
  if (finite.length === 0) return { n: 0, p50: NaN, p95: NaN, min: NaN, max: NaN, mean: NaN };
  return {
    n: finite.length,
    p50: percentile(finite, 50),
    p95: percentile(finite, 95),
    min: Math.min(...finite),
    max: Math.max(...finite),
    mean: finite.reduce((s, x) => s + x, 0) / finite.length,
  };
}

/** p50 of each key over a list of records (keys taken from all records). */
export function p50ByKey(records: ReadonlyArray<Readonly<Record<string, number>>>): Record<string, number> {
  const keys = [...new Set(records.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(keys.map((k) => [k, percentile(records.map((r) => r[k] ?? NaN), 50)]));
}

/** Rounds to `digits` decimals; NaN and ±Infinity become null (JSON has no NaN). */
export function round(x: number, digits = 0): number | null {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
