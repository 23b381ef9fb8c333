import { describe, expect, it } from 'vitest';
import { benchOptions, DEFAULT_RUNS, MODES, QUICK_RUNS, UsageError } from './args.js';
import { benchPidOf, namesFor } from './cleanup.js';
import { evaluateGoals } from './goals.js';

describe('benchOptions', () => {
  it('defaults to 20 runs of every mode and scaling to 64', () => {
    const o = benchOptions({});
    expect(o.runs).toBe(DEFAULT_RUNS);
    expect(o.modes).toEqual([...MODES]);
    expect(o.scale).toEqual([1, 8, 32, 64]);
    expect(o.memoryMib).toBe(256);
    expect(o.vcpus).toBe(1);
  });

  it('--quick: 3 runs, a small scaling step, one PSS VM; --runs still wins', () => {
    const q = benchOptions({ quick: true });
    expect(q.runs).toBe(QUICK_RUNS);
    expect(q.scale).toEqual([1, 4]);
    expect(q.pssVms).toBe(1);
    expect(benchOptions({ quick: true, runs: '5' }).runs).toBe(5);
  });

  it('parses modes (kept in canonical order), scale steps and none', () => {
    expect(benchOptions({ modes: 'pool,cold' }).modes).toEqual(['cold', 'pool']);
    expect(benchOptions({ scale: '2,4' }).scale).toEqual([2, 4]);
    expect(benchOptions({ scale: 'none' }).scale).toEqual([]);
  });

  it('rejects bad values as usage errors', () => {
    expect(() => benchOptions({ runs: '0' })).toThrow(UsageError);
    expect(() => benchOptions({ runs: 'x' })).toThrow(UsageError);
    expect(() => benchOptions({ modes: 'warp' })).toThrow(UsageError);
    expect(() => benchOptions({ scale: '8,4' })).toThrow(UsageError);
  });
});

describe('bench names', () => {
  it('carry the pid so a later run can tell whose leftovers they are', () => {
    const n = namesFor(4242);
    expect(benchPidOf(`${n.forkPrefix}0123456789ab`)).toBe(4242);
    expect(benchPidOf(`forkd-vm-${n.vmIdPrefix}c3`)).toBe(4242);
    expect(benchPidOf(n.workDirName)).toBe(4242);
    expect(benchPidOf('forkd-vm-0123456789ab')).toBeNull();
    expect(benchPidOf('forkd-test-forkagent-tmpl')).toBeNull();
  });
});

describe('evaluateGoals', () => {
  it('judges each goal from measured numbers', () => {
    const g = evaluateGoals({ coldReadyP50: 12000, forkReadyP50: 800, poolReadyP50: 260, coldPssMib: 200, forkPssMib: 60, scaleTarget: 64, scaleReached: 64 });
    expect(g.map((x) => [x.id, x.met])).toEqual([
      ['fork-10x', true],
      ['pool-50ms', false],
      ['pss-half', true],
      ['density-64', true],
    ]);
    expect(g[0]!.measured).toContain('15.0×');
    expect(g[1]!.measured).toContain('5.2× the goal');
  });

  it('says n/a (null) when a goal was not measured', () => {
    const g = evaluateGoals({ coldReadyP50: 12000, forkReadyP50: null, scaleTarget: 4, scaleReached: 4 });
    expect(g.map((x) => x.met)).toEqual([null, null, null, null]);
  });
});

describe('evaluateGoals: ready-pool', () => {
  it('adds a ready-clone goal only when the mode ran, showing the time to identity applied beside it', () => {
    expect(evaluateGoals({ poolReadyP50: 255 }).map((x) => x.id)).not.toContain('pool-50ms-ready');
    const g = evaluateGoals({ poolReadyP50: 255, readyPoolReadyP50: 3, readyPoolIdentityAppliedP50: 1400 });
    const ready = g.find((x) => x.id === 'pool-50ms-ready')!;
    expect(ready.met).toBe(true);
    expect(ready.measured).toContain('1400 ms to identity applied');
    expect(g.find((x) => x.id === 'pool-50ms')!.met).toBe(false);
  });
});

describe('evaluateGoals: network step', () => {
  it('reports the network step of each mode that joined a network, with its share of first output, and judges nothing', () => {
    const g = evaluateGoals({
      networkP50: [
        { label: 'cold boot', networkP50: 400, firstOutputP50: 16_000 },
        { label: 'save/restore', networkP50: null, firstOutputP50: 2800 },
        { label: 'pool take', networkP50: 310.4, firstOutputP50: 3100 },
      ],
    });
    const n = g.find((x) => x.id === 'network-cost')!;
    expect(n).toMatchObject({ met: null, reportOnly: true });
    expect(n.measured).toBe('cold boot 400 ms (3 % of first output); pool take 310 ms (10 % of first output)');
  });

  it('adds no line when no VM joined a network (no NIC)', () => {
    expect(evaluateGoals({ networkP50: [{ label: 'fork', networkP50: null, firstOutputP50: 3000 }] }).map((x) => x.id)).not.toContain('network-cost');
  });
});

describe('evaluateGoals: PSS without TCG', () => {
  it('adds the KVM-relevant comparison to the measurement, judging on the full PSS', () => {
    const [, , pss] = evaluateGoals({ coldPssMib: 380, forkPssMib: 170, coldPssNoTcgMib: 210, forkPssNoTcgMib: 95 });
    expect(pss!.met).toBe(true);
    expect(pss!.measured).toContain('without TCG');
    expect(pss!.measured).toContain('45 %');
  });
});

describe('renameAheadSteps', () => {
  it('marks the shell steps of a pool take as done ahead of the request and drops verify', async () => {
    const { renameAheadSteps } = await import('./samples.js');
    expect(renameAheadSteps({ verify: 0, overlay: 10, domainStart: 400, incoming: 20 })).toEqual({ 'overlay (ahead of take)': 10, 'domainStart (ahead of take)': 400, incoming: 20 });
    expect(renameAheadSteps({ incoming: 20, agentReady: 200, identity: 900 }, ['incoming', 'agentReady'])).toEqual({ 'incoming (ahead of take)': 20, 'agentReady (ahead of take)': 200, identity: 900 });
  });
});
