import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { checkFilterKeys, labelMatches, parseFilters, queryBool } from './filters.js';

describe('filters', () => {
  it('reads the CLI\'s map form and the libraries\' list form alike', () => {
    expect(parseFilters('{"status":{"running":true},"name":{"web":true}}')).toEqual(new Map([['status', ['running']], ['name', ['web']]]));
    expect(parseFilters('{"status":["running","exited"]}')).toEqual(new Map([['status', ['running', 'exited']]]));
    expect(parseFilters(undefined)).toEqual(new Map());
  });

  it('drops values switched off in the map form', () => {
    expect(parseFilters('{"label":{"a=1":true,"b":false}}').get('label')).toEqual(['a=1']);
  });

  it('refuses what is not a filter object, naming the field', () => {
    expect(() => parseFilters('not json')).toThrow(ForkdError);
    expect(() => parseFilters('[1]')).toThrow(/filters must be a JSON object/);
    expect(() => checkFilterKeys(parseFilters('{"colour":["red"]}'), ['status'])).toThrow("invalid filter 'colour'");
    expect(() => checkFilterKeys(parseFilters('{"status":["running"]}'), ['status'])).not.toThrow();
  });

  it('matches labels by key or key=value', () => {
    expect(labelMatches({ app: 'web' }, 'app')).toBe(true);
    expect(labelMatches({ app: 'web' }, 'app=web')).toBe(true);
    expect(labelMatches({ app: 'web' }, 'app=db')).toBe(false);
    expect(labelMatches({}, 'app')).toBe(false);
  });

  it('reads booleans as Docker does', () => {
    for (const no of ['', '0', 'no', 'false', 'none', 'FALSE']) expect(queryBool(no), no).toBe(false);
    for (const yes of ['1', 'true', 'yes', 'anything']) expect(queryBool(yes), yes).toBe(true);
    expect(queryBool(undefined)).toBe(false);
    expect(queryBool(undefined, true)).toBe(true);
  });
});
