import { describe, expect, it } from 'vitest';
import { HOST_TEMPLATE_STATES, templateLifecycle, templateStateFromHost } from './template.js';

describe('the template lifecycle', () => {
  it('builds to ready, goes stale, and is rebuilt in place', () => {
    expect(templateLifecycle.can('building', 'ready')).toBe(true);
    expect(templateLifecycle.can('ready', 'stale')).toBe(true);
    expect(templateLifecycle.can('stale', 'building')).toBe(true);
    expect(templateLifecycle.can('failed', 'building')).toBe(true);
  });

  it('never turns a stale or failed template ready without a rebuild', () => {
    expect(() => templateLifecycle.transition('stale', 'ready')).toThrow(/template cannot go from stale to ready/);
    expect(() => templateLifecycle.transition('failed', 'ready')).toThrow(/cannot go from failed to ready/);
    expect(() => templateLifecycle.transition('ready', 'building')).toThrow(/cannot go from ready to building/);
  });

  it('reads any host verdict but ready as stale', () => {
    expect(templateStateFromHost('ready')).toBe('ready');
    for (const s of HOST_TEMPLATE_STATES.filter((x) => x !== 'ready')) expect(templateStateFromHost(s)).toBe('stale');
  });
});

describe('hostd\'s record of a template\'s files', () => {
  it('lets a stale or corrupt template come back when its check passes again, but never skips the build', async () => {
    const { hostTemplateLifecycle } = await import('./template.js');
    expect(hostTemplateLifecycle.can('stale', 'ready')).toBe(true);
    expect(hostTemplateLifecycle.can('corrupt', 'building')).toBe(true);
    expect(() => hostTemplateLifecycle.transition('building', 'stale', 't1')).toThrow(/template t1 cannot go from building to stale/);
  });
});
