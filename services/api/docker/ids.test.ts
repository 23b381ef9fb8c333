import { describe, expect, it } from 'vitest';
import { dockerId, forkdId, resolveContainer } from './ids.js';

const rows = [
  { id: '11111111-2222-3333-4444-555555555555', name: 'web' },
  { id: '11119999-2222-3333-4444-555555555555', name: 'db' },
  { id: 'abcdef00-2222-3333-4444-555555555555', name: '11111111' },
];

describe('container ids and names', () => {
  it('shows forkd\'s UUIDs as hex ids and reads them back', () => {
    expect(dockerId(rows[0]!.id)).toBe('11111111222233334444555555555555');
    expect(forkdId('11111111222233334444555555555555')).toBe(rows[0]!.id);
    expect(forkdId('web')).toBe('web');
  });

  it('resolves a full id, then a name (with or without its slash), then a unique prefix', () => {
    expect(resolveContainer(rows, '11111111222233334444555555555555')).toBe(rows[0]!.id);
    expect(resolveContainer(rows, rows[1]!.id)).toBe(rows[1]!.id);
    expect(resolveContainer(rows, 'db')).toBe(rows[1]!.id);
    expect(resolveContainer(rows, '/web')).toBe(rows[0]!.id);
    // A name wins over an id prefix, as in the daemon.
    expect(resolveContainer(rows, '11111111')).toBe(rows[2]!.id);
    expect(resolveContainer(rows, 'abcd')).toBe(rows[2]!.id);
  });

  it('refuses an unknown reference with "No such container" and an ambiguous prefix with a 400', () => {
    expect(() => resolveContainer(rows, 'nosuch')).toThrow('No such container: nosuch');
    expect(() => resolveContainer(rows, 'fff')).toThrow('No such container: fff');
    expect(() => resolveContainer(rows, '1111')).toThrow(/multiple IDs found with provided prefix: 1111/);
  });
});
