// When a fork may reuse its parent's last fork point: recent enough, and the
// guest wrote little since by the measured dirty rate; a failed measurement
// never reuses.
import { describe, expect, it } from 'vitest';
import type { Qmp } from '../fork/qmp.js';
import { decideReuse, measureDirtyRate, withinWindow } from './reuse.js';

const policy = { windowMs: 10_000, maxDirtyMib: 16 };
const at = (msAgo: number) => ({ id: 'fp-1', takenAt: new Date(1_000_000 - msAgo).toISOString() });

describe('withinWindow', () => {
  it('accepts a capture younger than the window', () => {
    expect(withinWindow(at(3000), 1_000_000, policy)).toEqual({ ok: true, ageMs: 3000 });
  });

  it('refuses none, an old one, a future one, and any when reuse is off', () => {
    expect(withinWindow(undefined, 1_000_000, policy)).toMatchObject({ ok: false, why: 'no earlier capture' });
    expect(withinWindow(at(10_001), 1_000_000, policy)).toMatchObject({ ok: false, why: expect.stringMatching(/10 s old, over 10 s/) });
    expect(withinWindow(at(-5), 1_000_000, policy)).toMatchObject({ ok: false });
    expect(withinWindow(at(1), 1_000_000, { ...policy, windowMs: 0 })).toMatchObject({ ok: false, why: expect.stringMatching(/off/) });
  });
});

describe('decideReuse', () => {
  it('reuses when the rate times the age (with the measuring second) stays under the bound', () => {
    // 2 MiB/s for 3 s + 1 s measuring = 8 MiB.
    expect(decideReuse(3000, 2, 1000, policy)).toEqual({ reuse: true, ageMs: 4000, estimateMib: 8 });
    expect(decideReuse(9000, 0, 1000, policy)).toMatchObject({ reuse: true, estimateMib: 0 });
  });

  it('captures anew past the bound, and when nothing was measured', () => {
    expect(decideReuse(7000, 2, 1000, policy)).toMatchObject({ reuse: true, estimateMib: 16 }); // at the bound: still reused
    expect(decideReuse(7500, 2, 1000, policy)).toMatchObject({ reuse: false, why: expect.stringMatching(/17.0 MiB written.*over 16 MiB/) });
    expect(decideReuse(1000, null, 1000, policy)).toMatchObject({ reuse: false, why: expect.stringMatching(/could not be measured/) });
  });
});

describe('measureDirtyRate', () => {
  it('asks QEMU for a one-second page-sampling measurement and reads its rate', async () => {
    const calls: string[] = [];
    const qmp: Qmp = async (cmd, args) => {
      calls.push(`${cmd} ${JSON.stringify(args ?? {})}`);
      return cmd === 'query-dirty-rate' ? { status: 'measured', 'dirty-rate': 3 } : {};
    };
    expect(await measureDirtyRate(qmp)).toBe(3);
    expect(calls[0]).toBe('calc-dirty-rate {"calc-time":1,"mode":"page-sampling"}');
  });

  it('is null when QEMU refuses (no reuse then)', async () => {
    const qmp: Qmp = async () => { throw new Error('CommandNotFound'); };
    expect(await measureDirtyRate(qmp)).toBeNull();
  });
});
