import { describe, expect, it } from 'vitest';
import { HOST_VM_STATES, hostVmLifecycle, isVmLive, VM_ENDED_STATES, VM_LIVE_STATES, VM_STATES, vmLifecycle, vmStateFromHost } from './vm.js';

describe('the VM lifecycle', () => {
  it('runs creating → running → stopping → gone, and may pause and resume', () => {
    expect(vmLifecycle.can('creating', 'running')).toBe(true);
    expect(vmLifecycle.can('running', 'paused')).toBe(true);
    expect(vmLifecycle.can('paused', 'running')).toBe(true);
    expect(vmLifecycle.can('running', 'stopping')).toBe(true);
    expect(vmLifecycle.can('stopping', 'gone')).toBe(true);
  });

  it('marks a live VM lost, but never brings an ended one back', () => {
    for (const s of VM_LIVE_STATES.filter((x) => x !== 'creating')) expect(vmLifecycle.can(s, 'lost')).toBe(true);
    // A create in flight is not on the host yet: it is never "lost", it fails or finishes.
    expect(vmLifecycle.can('creating', 'lost')).toBe(false);
    for (const ended of VM_ENDED_STATES) {
      for (const live of VM_LIVE_STATES) expect(() => vmLifecycle.transition(ended, live)).toThrow(/cannot go from/);
    }
    expect(vmLifecycle.can('lost', 'gone')).toBe(true);
    expect(vmLifecycle.can('failed', 'gone')).toBe(true);
  });

  it('splits every state into live or ended, exactly once', () => {
    expect([...VM_LIVE_STATES, ...VM_ENDED_STATES].sort()).toEqual([...VM_STATES].sort());
    expect(isVmLive('running')).toBe(true);
    expect(isVmLive('lost')).toBe(false);
  });

  it('maps what hostd reports to the database: its own states as they are, absent or gone as lost', () => {
    expect(vmStateFromHost('running')).toBe('running');
    expect(vmStateFromHost('stopping')).toBe('stopping');
    expect(vmStateFromHost(undefined)).toBe('lost');
    expect(vmStateFromHost('gone')).toBe('lost');
    for (const s of HOST_VM_STATES) expect(VM_STATES).toContain(vmStateFromHost(s));
  });

  it('keeps hostd\'s own record stricter: no pause, no return from stopping', () => {
    expect(hostVmLifecycle.can('creating', 'gone')).toBe(true);
    expect(hostVmLifecycle.can('running', 'stopping')).toBe(true);
    expect(hostVmLifecycle.can('running', 'gone')).toBe(false);
    expect(hostVmLifecycle.can('stopping', 'running')).toBe(false);
  });
});
