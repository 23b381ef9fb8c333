import { describe, expect, it } from 'vitest';
import { CONTAINER_STATE_WHEN_VM_LOST, CONTAINER_STATES, containerLifecycle, containerStateFromHost, HOST_CONTAINER_STATES, containerViewState } from './container.js';

describe('the container lifecycle', () => {
  it('runs created → running → exited, and fails from any live state', () => {
    expect(containerLifecycle.can('created', 'running')).toBe(true);
    expect(containerLifecycle.can('running', 'exited')).toBe(true);
    expect(containerLifecycle.can('created', 'failed')).toBe(true);
    expect(containerLifecycle.can('running', 'failed')).toBe(true);
  });

  it('never restarts an ended container or rewrites how it ended', () => {
    expect(() => containerLifecycle.transition('exited', 'running')).toThrow(/container cannot go from exited to running/);
    expect(() => containerLifecycle.transition('failed', 'exited')).toThrow(/cannot go from failed to exited/);
    expect(() => containerLifecycle.transition('running', 'created')).toThrow(/cannot go from running to created/);
    expect(containerLifecycle.can('exited', 'exited')).toBe(true);
  });

  it('takes hostd\'s reports as they are and fails the container of a lost VM', () => {
    for (const s of HOST_CONTAINER_STATES) expect(containerStateFromHost(s)).toBe(s);
    expect(CONTAINER_STATES).toContain(CONTAINER_STATE_WHEN_VM_LOST);
    expect(containerLifecycle.can('running', CONTAINER_STATE_WHEN_VM_LOST)).toBe(true);
  });
});

describe('a container whose host is down', () => {
  it('shows `lost` while it was created or running, and its own state otherwise', () => {
    expect(containerViewState('running', true)).toBe('lost');
    expect(containerViewState('created', true)).toBe('lost');
    expect(containerViewState('exited', true)).toBe('exited');
    // Positive control: the same states on an up host are shown as they are.
    expect(containerViewState('running', false)).toBe('running');
  });
});
