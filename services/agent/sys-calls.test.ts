// The in-process system calls bind on the host too (koffi from node_modules);
// only calls without an effect on the host are made here. The guest's own
// effects (clock, MAC, credited entropy) are checked in test/teardown.test.ts
// and the fork tests through identity.set.
import { describe, expect, it } from 'vitest';
import { SysCallError, sysCalls } from './sys-calls.js';
import { koffiPath } from './terminal.js';

describe.skipIf(koffiPath() === null)('sysCalls', () => {
  it('binds libc once and hands back the same calls', () => {
    const a = sysCalls();
    expect(a).not.toBeNull();
    expect(sysCalls()).toBe(a);
  });

  it('reports a failed call with its errno instead of pretending it worked', () => {
    // No such interface: SIOCGIFFLAGS fails with ENODEV (19) before anything is changed.
    const err = (() => {
      try {
        sysCalls()!.setMac('nosuchnic0', '0a:f0:4d:01:02:03');
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SysCallError);
    expect((err as SysCallError).errno).toBe(19);
  });
});
