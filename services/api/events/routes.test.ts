import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { parseFilters, parsePoint } from './routes.js';

const fieldOf = (fn: () => unknown): string | undefined => {
  try { fn(); } catch (err) { return err instanceof ForkdError ? err.field : 'not a ForkdError'; }
  return undefined;
};

describe('parsePoint (since, until)', () => {
  it('reads an event id as "after it", milliseconds and RFC 3339 dates as a time', () => {
    expect(parsePoint('1764538800123-0', 'since')).toEqual({ after: '1764538800123-0' });
    expect(parsePoint('1764538800123', 'since')).toEqual({ since: 1764538800123 });
    expect(parsePoint('2026-11-30T21:00:00Z', 'until')).toEqual({ since: Date.parse('2026-11-30T21:00:00Z') });
    expect(parsePoint(undefined, 'since')).toBeUndefined();
  });

  it('refuses anything else, naming the field', () => {
    expect(fieldOf(() => parsePoint('yesterday', 'since'))).toBe('since');
    expect(fieldOf(() => parsePoint('12-ab', 'until'))).toBe('until');
  });
});

describe('parseFilters', () => {
  it('takes Docker\'s JSON form of lists for type, action and actor', () => {
    expect(parseFilters('{"type":["container"],"action":["die","start"],"actor":["web"]}')).toEqual({ type: ['container'], action: ['die', 'start'], actor: ['web'] });
    expect(parseFilters(undefined)).toEqual({});
  });

  it('refuses malformed JSON, unknown keys and non-lists, naming filters', () => {
    for (const bad of ['{', '[]', '{"colour":["red"]}', '{"type":"container"}', '{"type":[1]}']) expect(fieldOf(() => parseFilters(bad)), bad).toBe('filters');
  });
});
