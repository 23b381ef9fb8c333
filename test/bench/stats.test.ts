import { describe, expect, it } from 'vitest';
import { p50ByKey, percentile, round, summarize } from './stats.js';

describe('percentile (nearest rank)', () => {
  it('picks a measured sample, never an interpolation', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(percentile(xs, 50)).toBe(3);
    expect(percentile(xs, 95)).toBe(5);
    expect(percentile(xs, 100)).toBe(5);
    expect(percentile(xs, 1)).toBe(1);
  });

  it('matches the usual ranks for 20 samples (p50 = 10th, p95 = 19th)', () => {
    const xs = Array.from({ length: 20 }, (_, i) => (i + 1) * 10).reverse();
    expect(percentile(xs, 50)).toBe(100);
    expect(percentile(xs, 95)).toBe(190);
  });

  it('handles one sample, none, and ignores NaN', () => {
    expect(percentile([42], 50)).toBe(42);
    expect(percentile([42], 95)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
    expect(percentile([NaN, 7, NaN], 50)).toBe(7);
  });

  it('rejects percentiles outside (0, 100]', () => {
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('does not reorder the caller’s array', () => {
    const xs = [3, 1, 2];
    percentile(xs, 50);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe('summarize', () => {
  it('gives n, p50, p95, min, max, mean', () => {
    expect(summarize([10, 20, 30, 40])).toEqual({ n: 4, p50: 20, p95: 40, min: 10, max: 40, mean: 25 });
  });
  it('is all NaN with no samples', () => {
    const s = summarize([]);
    expect(s.n).toBe(0);
    expect(s.p50).toBeNaN();
  });
});

describe('p50ByKey and round', () => {
  it('takes the p50 of each key, missing values ignored', () => {
    expect(p50ByKey([{ a: 1, b: 10 }, { a: 3 }, { a: 2, b: 30 }])).toEqual({ a: 2, b: 10 });
  });
  it('rounds and turns non-finite values into null', () => {
    expect(round(12.345, 1)).toBe(12.3);
    expect(round(12.5)).toBe(13);
    expect(round(NaN)).toBeNull();
    expect(round(Infinity)).toBeNull();
  });
});
