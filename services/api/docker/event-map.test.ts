import { describe, expect, it } from 'vitest';
import type { ForkdEvent } from '../../contracts/events/index.js';
import { dockerEventMatches, dockerTime, toDockerEvent } from './event-map.js';
import { parseFilters } from './filters.js';

const ID = '0b8e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const die: ForkdEvent = {
  id: '1796080000000-0', time: 1_796_080_000_123, type: 'container', action: 'die', tenantId: 't1',
  actor: { id: ID, name: 'web', attributes: { image: 'sha256:abc', exitCode: '7', oomKilled: 'false', vmId: 'vm-1' } },
};

describe('forkd events as Docker events', () => {
  it('gives a container die Docker\'s fields, the old ones too, with its exit code, image as named and labels', () => {
    expect(toDockerEvent(die, { image: 'busybox', labels: { tier: 'web' } })).toEqual({
      status: 'die', id: ID.replace(/-/g, ''), from: 'busybox',
      Type: 'container', Action: 'die',
      Actor: { ID: ID.replace(/-/g, ''), Attributes: { name: 'web', tier: 'web', image: 'busybox', exitCode: '7' } },
      scope: 'local', time: 1_796_080_000, timeNano: 1_796_080_000_123_000_000,
    });
  });

  it('renames image and network actions as the daemon names them, and sends nothing for VMs and templates', () => {
    expect(toDockerEvent({ ...die, type: 'image', action: 'import', actor: { id: 'sha256:abc', attributes: {} } })?.Action).toBe('load');
    expect(toDockerEvent({ ...die, type: 'network', action: 'delete', actor: { id: ID, name: 'n', attributes: {} } })?.Action).toBe('destroy');
    expect(toDockerEvent({ ...die, type: 'vm', action: 'create' })).toBeUndefined();
    expect(toDockerEvent({ ...die, type: 'template', action: 'create' })).toBeUndefined();
  });

  it('filters by type, event, container (id prefix or name) and label, in both filter forms', () => {
    const d = toDockerEvent(die, { labels: { tier: 'web' } })!;
    expect(dockerEventMatches(d, parseFilters('{"type":{"container":true},"event":{"die":true}}'))).toBe(true);
    expect(dockerEventMatches(d, parseFilters('{"container":["web"],"label":["tier=web"]}'))).toBe(true);
    expect(dockerEventMatches(d, parseFilters(`{"container":["${ID.slice(0, 8)}"]}`))).toBe(true);
    expect(dockerEventMatches(d, parseFilters('{"event":["start"]}'))).toBe(false);
    expect(dockerEventMatches(d, parseFilters('{"label":["tier=db"]}'))).toBe(false);
    expect(() => dockerEventMatches(d, parseFilters('{"colour":["red"]}'))).toThrow(/invalid filter 'colour'/);
  });

  it('reads since and until as unix seconds, RFC 3339 or a duration ago, and refuses anything else naming the field', () => {
    expect(dockerTime('1796080000.5', 'since')).toBe(1_796_080_000_500);
    expect(dockerTime('2026-11-30T00:00:00Z', 'since')).toBe(Date.parse('2026-11-30T00:00:00Z'));
    expect(dockerTime('10m', 'since', 1_000_000)).toBe(400_000);
    expect(dockerTime(undefined, 'since')).toBeUndefined();
    expect(() => dockerTime('yesterday', 'until')).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION', field: 'query.until' }));
  });
});
