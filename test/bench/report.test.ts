import { describe, expect, it } from 'vitest';
import { goalsOf, renderMarkdown, renderText, type BenchReport } from './report.js';
import { modeJson, newModeResult } from './samples.js';

function fakeReport(): BenchReport {
  const cold = newModeResult('cold');
  const fork = newModeResult('fork');
  for (let i = 0; i < 3; i++) {
    cold.samples.push({ readyMs: 10_000 + i, identityMs: 900, firstOutputMs: 16_000 + i, steps: { domainStart: 500, agentReady: 9000, network: 320 + i, networkTap: 40 }, load1: 2 });
    fork.samples.push({ readyMs: 600 + i, identityMs: 1000, firstOutputMs: 2500 + i, steps: { domainStart: 450, incoming: 25, network: 250 + i, networkTap: 30 }, load1: 2 });
  }
  cold.pss.push({ vm: 'c', pssMib: 380, anonMib: 376, fileMib: 4, guestRamMib: 180, tcgCodeMib: 165, qemuOtherMib: 35 });
  fork.pss.push({ vm: 'f', pssMib: 170, anonMib: 110, fileMib: 60, guestRamMib: 70, tcgCodeMib: 75, qemuOtherMib: 25 });
  cold.pssVmsAlive = 1;
  fork.pssVmsAlive = 1;
  const partial = {
    benchmark: 'fork' as const,
    date: '2026-11-22T17:00:00.000Z',
    git: { commit: '0123456789abcdef', dirty: false },
    accel: 'tcg',
    accel_reason: 'test',
    host: { cpus: 2, cpuModel: 'cpu', memTotalMib: 24576, kernel: '6.1', node: 'v20', libvirt: '9.0.0', qemu: '7.2.0', loadavgStart: [1, 1, 1], loadavgEnd: [2, 2, 2] },
    guest: { image: 'abcdef0123456789', kernel: '6.1', memory_mib: 256, vcpus: 1, nic: 'tap on tenant network bench-1' },
    network: { id: 'bench-1', subnet: '10.89.200.0/22', internal: true, create_ms: 80 },
    runs: 3,
    quick: true,
    duration_s: 60,
    template: null,
    modes: { cold: modeJson(cold), fork: modeJson(fork) },
    scaling: null,
    notes: [],
  };
  return { ...partial, goals: goalsOf(partial) };
}

describe('report', () => {
  it('summarizes modes with the keys fork.json promises', () => {
    const r = fakeReport();
    expect(r.modes.cold).toMatchObject({ p50_ms: 10_001, p95_ms: 10_002, pss_mib: 380, first_output_p50_ms: 16_001 });
    expect(r.modes.fork).toMatchObject({ p50_ms: 601, network_p50_ms: 251, pss_parts_mib: { guest_ram: 70, tcg_code: 75, qemu_other: 25 } });
    expect(r.modes.cold!.steps_p50_ms).toMatchObject({ network: 321, networkTap: 40 });
    expect(r.modes.fork!.samples).toHaveLength(3);
  });

  it('prints the mode table, the step table and the goals', () => {
    const text = renderText(fakeReport());
    expect(text).toMatch(/^mode\s+runs\s+ready p50 ms .* identity applied p50 ms\s+network p50 ms\s+PSS\/VM MiB/m);
    expect(text).toMatch(/^cold boot\s+3\s+10001\s+10002\s+16001\s+16002\s+900\s+10901\s+321\s+380\s+180\s+165\s+35\s+1$/m);
    expect(text).toMatch(/^fork\s+3\s+601\s+602/m);
    expect(text).toMatch(/^domainStart\s+500\s+450$/m);
    expect(text).toContain('16.6× (10001 ms vs 601 ms)');
    expect(text).toMatch(/pool take ≤ 50 ms p50 to agent-ready\s+not measured\s+n\/a/);
    expect(text).toMatch(/^network step per take .*cold boot 321 ms \(2 % of first output\); fork 251 ms \(10 % of first output\)\s+report only$/m);
  });

  it('shows "-" for the network of a mode whose VMs joined none (save/restore, or no NIC)', () => {
    const restore = newModeResult('restore');
    restore.samples.push({ readyMs: 1000, identityMs: 0, firstOutputMs: 2500, steps: { restore: 800 }, load1: 1 });
    const r = fakeReport();
    r.modes.restore = modeJson(restore);
    expect(r.modes.restore.network_p50_ms).toBeNull();
    expect(renderText(r)).toMatch(/^save\/restore\s+1\s+1000\s+1000\s+2500\s+2500\s+0\s+1000\s+-\s/m);
    const goals = goalsOf({ modes: { restore: r.modes.restore }, scaling: null });
    expect(goals.map((g) => g.id)).not.toContain('network-cost');
  });

  it('renders the same tables as Markdown', () => {
    const md = renderMarkdown(fakeReport());
    expect(md).toContain('| cold boot | 3 | 10001 | 10002 |');
    expect(md).toContain('|---|---:|');
  });
});
