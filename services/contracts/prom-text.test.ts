import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { parsePrometheusText, sampleValue } from './prom-text.js';

describe('parsePrometheusText', () => {
  it('reads what prom-client writes: types, labels, histogram series', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'x_total', help: 'x', labelNames: ['route'], registers: [registry] });
    const h = new Histogram({ name: 'y_seconds', help: 'y', buckets: [1], registers: [registry] });
    c.inc({ route: '/v1/a "q"' }, 2);
    h.observe(0.5);
    const f = parsePrometheusText(await registry.metrics());
    expect(f.get('x_total')?.type).toBe('counter');
    expect(sampleValue(f, 'x_total', { route: '/v1/a "q"' })).toBe(2);
    expect(f.get('y_seconds')?.type).toBe('histogram');
    expect(sampleValue(f, 'y_seconds_count')).toBe(1);
    expect(sampleValue(f, 'y_seconds_bucket', { le: '+Inf' })).toBe(1);
  });

  it('refuses a line that is not a sample, and a TYPE given twice', () => {
    expect(() => parsePrometheusText('x_total{a="1" 1\n')).toThrow(/not a sample|bad labels/);
    expect(() => parsePrometheusText('# TYPE x counter\n# TYPE x gauge\n')).toThrow(/twice/);
    expect(() => parsePrometheusText('# TYPE x counter\nx 1\n')).not.toThrow();
  });
});
