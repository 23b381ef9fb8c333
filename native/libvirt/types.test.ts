import { describe, expect, it } from 'vitest';

import { decodeVersion, domainStateInfo, lifecycleNames } from './types.js';

describe('libvirt enum mappings', () => {
  it('decodes libvirt version numbers', () => {
    expect(decodeVersion(7_002_022)).toEqual({ major: 7, minor: 2, micro: 22, string: '7.2.22', raw: 7_002_022 });
    expect(decodeVersion(9_000_000).string).toBe('9.0.0');
  });

  it('names domain states and reasons', () => {
    expect(domainStateInfo(1, 1)).toEqual({ state: 'running', reason: 'booted', stateCode: 1, reasonCode: 1 });
    expect(domainStateInfo(3, 1).reason).toBe('user');
    expect(domainStateInfo(5, 5)).toMatchObject({ state: 'shutoff', reason: 'saved' });
    expect(domainStateInfo(5, 99).reason).toBe('reason_99');
    expect(domainStateInfo(42, 0).state).toBe('nostate');
  });

  it('names lifecycle events and details', () => {
    expect(lifecycleNames(2, 0)).toEqual({ event: 'started', detail: 'booted' });
    expect(lifecycleNames(3, 0)).toEqual({ event: 'suspended', detail: 'paused' });
    expect(lifecycleNames(4, 0)).toEqual({ event: 'resumed', detail: 'unpaused' });
    expect(lifecycleNames(5, 1)).toEqual({ event: 'stopped', detail: 'destroyed' });
    expect(lifecycleNames(5, 42)).toEqual({ event: 'stopped', detail: 'detail_42' });
    expect(lifecycleNames(77, 1)).toEqual({ event: 'event_77', detail: 'detail_1' });
  });
});
