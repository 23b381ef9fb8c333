import { describe, expect, it } from 'vitest';
import { hostTransitions } from './host-watch.js';

describe('host transitions', () => {
  it('are a known host going down or coming back up', () => {
    const before = new Map([['a', true], ['b', false], ['c', true]]);
    expect(hostTransitions(before, [{ hostId: 'a', up: false }, { hostId: 'b', up: true }, { hostId: 'c', up: true }]))
      .toEqual([{ hostId: 'a', to: 'down' }, { hostId: 'b', to: 'up' }]);
  });

  it('are not a host seen for the first time, nor one that stays as it was', () => {
    expect(hostTransitions(new Map(), [{ hostId: 'a', up: true }, { hostId: 'b', up: false }])).toEqual([]);
    expect(hostTransitions(new Map([['a', false]]), [{ hostId: 'a', up: false }])).toEqual([]);
    // Positive control: the same host once known and changed is one.
    expect(hostTransitions(new Map([['a', true]]), [{ hostId: 'a', up: false }])).toEqual([{ hostId: 'a', to: 'down' }]);
  });
});
