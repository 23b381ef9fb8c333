import { describe, expect, it } from 'vitest';
import { ERRORS, ForkdError } from '../errors.js';
import { defineLifecycle, IllegalTransitionError } from './machine.js';

const door = defineLifecycle('door', ['open', 'shut', 'locked'] as const, { open: ['shut'], shut: ['open', 'locked'], locked: ['shut'] });

describe('a lifecycle', () => {
  it('allows the moves its table lists and staying put, and refuses the rest with a typed error', () => {
    expect(door.transition('shut', 'locked')).toBe('locked');
    expect(door.transition('open', 'open')).toBe('open');
    expect(door.can('open', 'locked')).toBe(false);
    const err = (() => { try { door.transition('open', 'locked', 'd1'); } catch (e) { return e; } return null; })();
    expect(err).toBeInstanceOf(IllegalTransitionError);
    expect(err).toBeInstanceOf(ForkdError);
    expect(err).toMatchObject({ code: 'ERR_ILLEGAL_TRANSITION', message: 'door d1 cannot go from open to locked', detail: { resource: 'door', from: 'open', to: 'locked', id: 'd1' } });
    expect(ERRORS.ERR_ILLEGAL_TRANSITION.status).toBe(409);
  });

  it('knows its own states and nothing else', () => {
    expect(door.isState('shut')).toBe(true);
    expect(door.isState('ajar')).toBe(false);
    expect(door.isState(3)).toBe(false);
  });
});
