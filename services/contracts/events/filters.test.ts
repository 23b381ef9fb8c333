import { describe, expect, it } from 'vitest';
import type { ForkdEvent } from './event.js';
import { eventMatches } from './filters.js';

const die: ForkdEvent = {
  id: '1-0', time: 1, type: 'container', action: 'die', tenantId: 't1',
  actor: { id: 'c1', name: 'web', attributes: { exitCode: '3', oomKilled: 'false' } },
};

describe('eventMatches', () => {
  it('shows a tenant its own events and no other tenant\'s', () => {
    expect(eventMatches(die, 't1')).toBe(true);
    expect(eventMatches(die, 't2')).toBe(false);
  });

  it('shows every tenant\'s events to the scope all', () => {
    expect(eventMatches(die, 'all')).toBe(true);
  });

  it('ORs values within a filter and ANDs filters', () => {
    expect(eventMatches(die, 't1', { type: ['vm', 'container'] })).toBe(true);
    expect(eventMatches(die, 't1', { type: ['vm'] })).toBe(false);
    expect(eventMatches(die, 't1', { type: ['container'], action: ['start'] })).toBe(false);
    expect(eventMatches(die, 't1', { type: ['container'], action: ['start', 'die'] })).toBe(true);
  });

  it('matches an actor by id or by name', () => {
    expect(eventMatches(die, 't1', { actor: ['c1'] })).toBe(true);
    expect(eventMatches(die, 't1', { actor: ['web'] })).toBe(true);
    expect(eventMatches(die, 't1', { actor: ['db'] })).toBe(false);
  });

  it('treats an empty filter list as no filter', () => {
    expect(eventMatches(die, 't1', { type: [] })).toBe(true);
  });
});
