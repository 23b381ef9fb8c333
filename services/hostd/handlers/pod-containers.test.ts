import { describe, expect, it } from 'vitest';
import { guestName } from './pod-containers.js';

describe('the name a pod container has in its guest', () => {
  it('is the container\'s name when that is already a hostname label', () => {
    expect(guestName('web')).toBe('web');
    expect(guestName('web-2')).toBe('web-2');
  });

  it('turns compose\'s and forked pods\' names into a hostname label', () => {
    expect(guestName('fkc1p_web_1')).toBe('fkc1p-web-1');
    expect(guestName('web.app2')).toBe('web-app2');
    expect(guestName('_x_')).toBe('x');
    expect(guestName('a'.repeat(70))).toHaveLength(63);
    expect(guestName('__')).toBe('container');
  });
});
