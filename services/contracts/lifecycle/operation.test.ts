import { describe, expect, it } from 'vitest';
import { operationLifecycle } from './operation.js';

describe('the operation lifecycle', () => {
  it('runs queued → running → succeeded or failed, and ends there', () => {
    expect(operationLifecycle.can('queued', 'running')).toBe(true);
    expect(operationLifecycle.can('running', 'succeeded')).toBe(true);
    expect(operationLifecycle.can('queued', 'failed')).toBe(true);
    expect(() => operationLifecycle.transition('succeeded', 'failed')).toThrow(/operation cannot go from succeeded to failed/);
    expect(() => operationLifecycle.transition('failed', 'running')).toThrow(/cannot go from failed to running/);
  });
});
