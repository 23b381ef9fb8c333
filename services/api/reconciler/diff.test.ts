import { describe, expect, it } from 'vitest';
import { diffHost, type HostDiffInput, type HostVmFacts, type VmRowFacts } from './diff.js';

const T0 = Date.parse('2026-11-30T12:00:00Z');
const before = new Date(T0 - 60_000);
const row = (id: string, state: VmRowFacts['state'], updatedAt = before): VmRowFacts => ({ id, state, updatedAt });
const onHost = (vmId: string): HostVmFacts => ({ vmId, domainName: `forkd-vm-${vmId}`, state: 'running' });

function diff(over: Partial<HostDiffInput>) {
  return diffHost({ hostId: 'h1', rows: [], hostVms: [], listedAt: T0, now: T0, orphanGraceMs: 60_000, orphanSince: new Map(), ...over });
}

describe('reconciling one host', () => {
  it('marks a running row whose VM the host no longer lists lost, and leaves a listed one alone', () => {
    const { actions } = diff({ rows: [row('gone-behind-our-back', 'running'), row('fine', 'running')], hostVms: [onHost('fine')] });
    expect(actions).toEqual([{ kind: 'mark-lost', vmId: 'gone-behind-our-back', from: 'running', reason: expect.stringContaining('host h1 no longer runs it') }]);
  });

  it('marks paused and stopping rows lost too, but never a create in flight or an ended row', () => {
    const { actions } = diff({ rows: [row('p', 'paused'), row('s', 'stopping'), row('c', 'creating'), row('f', 'failed'), row('g', 'gone'), row('l', 'lost')] });
    expect(actions.map((a) => `${a.kind}:${a.vmId}`).sort()).toEqual(['mark-lost:p', 'mark-lost:s']);
  });

  it('waits a round for a row that changed after the host was listed (the list may predate its VM)', () => {
    const fresh = row('just-started', 'running', new Date(T0 + 5));
    expect(diff({ rows: [fresh] }).actions).toEqual([]);
    // Positive control: the same row, unchanged since before the list, is lost.
    expect(diff({ rows: [row('just-started', 'running', new Date(T0 - 1))] }).actions).toHaveLength(1);
  });

  it('destroys a VM the database does not know only after the grace period', () => {
    const first = diff({ hostVms: [onHost('stray')] });
    expect(first.actions).toEqual([]);
    expect(first.orphanSince.get('stray')).toBe(T0);
    const later = diff({ hostVms: [onHost('stray')], now: T0 + 60_000, orphanSince: first.orphanSince });
    expect(later.actions).toEqual([{ kind: 'destroy-orphan', vmId: 'stray', domainName: 'forkd-vm-stray', reason: 'no row in the database' }]);
  });

  it('destroys at once with no grace, and never a VM whose row is live (a create in flight included)', () => {
    const { actions } = diff({ orphanGraceMs: 0, rows: [row('mine', 'running'), row('booting', 'creating')], hostVms: [onHost('mine'), onHost('booting'), onHost('stray')] });
    expect(actions).toEqual([expect.objectContaining({ kind: 'destroy-orphan', vmId: 'stray' })]);
  });

  it('counts an ended row\'s grace from when it ended: a failed create\'s VM goes at once', () => {
    const { actions } = diff({ rows: [row('timed-out', 'failed', new Date(T0 - 120_000)), row('just-failed', 'failed', new Date(T0 - 1000))], hostVms: [onHost('timed-out'), onHost('just-failed')] });
    expect(actions).toEqual([{ kind: 'destroy-orphan', vmId: 'timed-out', domainName: 'forkd-vm-timed-out', reason: 'its row is failed' }]);
  });

  it('forgets an orphan that is no longer one', () => {
    const { orphanSince } = diff({ rows: [row('adopted', 'running')], hostVms: [onHost('adopted')], orphanSince: new Map([['adopted', T0 - 5000]]) });
    expect(orphanSince.size).toBe(0);
  });
});
