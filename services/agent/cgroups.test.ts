import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroups, parseKeyValues, parseLimit } from './cgroups.js';

describe('cgroups', () => {
  it('parses key/value files and limits', () => {
    expect(parseKeyValues('low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n')).toEqual({ low: 0, high: 0, max: 12, oom: 1, oom_kill: 1, oom_group_kill: 0 });
    expect(parseKeyValues('garbage\nusage_usec 5\n\nx y\n')).toEqual({ usage_usec: 5 });
    expect(parseLimit('max\n')).toBeNull();
    expect(parseLimit('16777216\n')).toBe(16777216);
    expect(parseLimit('')).toBeNull();
    expect(parseLimit('-1')).toBeNull();
  });

  it('reads stats from the parent cgroup and limits from ctr', async () => {
    const root = mkdtempSync(join(tmpdir(), 'forkd-cg-'));
    try {
      const cg = new Cgroups(root);
      await cg.prepare('c1');
      const p = cg.parent('c1');
      writeFileSync(join(p, 'memory.current'), '4096\n');
      writeFileSync(join(p, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n');
      writeFileSync(join(p, 'cpu.stat'), 'usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 0\nnr_throttled 0\nthrottled_usec 7\n');
      writeFileSync(join(p, 'pids.current'), '3\n');
      mkdirSync(join(p, 'ctr'));
      writeFileSync(join(p, 'ctr', 'memory.max'), '16777216\n');
      writeFileSync(join(p, 'ctr', 'pids.max'), 'max\n');
      expect(await cg.stats('c1')).toEqual({
        memory: { currentBytes: 4096, maxBytes: 16777216, oomKills: 2 },
        cpu: { usageUsec: 100, userUsec: 60, systemUsec: 40, throttledUsec: 7 },
        pids: { current: 3, max: null },
      });
      expect(await cg.oomKills('c1')).toBe(2);
      expect(await cg.oomKills('none')).toBe(0);
      expect(cg.cgroupsPath('c1')).toBe('/forkd/c1/ctr');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
