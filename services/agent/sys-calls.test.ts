// The in-process system calls bind on the host too (koffi from node_modules);
// only calls without an effect on the host are made here. The guest's own
// effects (clock, MAC, credited entropy) are checked in test/teardown.test.ts
// and the fork tests through identity.set.
import { describe, expect, it } from 'vitest';
import { prefixMask, SysCallError, sysCalls } from './sys-calls.js';
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

  it('configures an address on no interface only by failing with ENODEV before any change', () => {
    const err = (() => {
      try {
        sysCalls()!.configureIpv4('nosuchnic0', { address: '10.89.0.2', prefix: 24, gateway: '10.89.0.1' });
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SysCallError);
    expect((err as SysCallError).errno).toBe(19);
  });
});

describe('prefixMask', () => {
  it('gives the dotted netmask of a prefix length, the edges included', () => {
    expect(prefixMask(24)).toBe('255.255.255.0');
    expect(prefixMask(22)).toBe('255.255.252.0');
    expect(prefixMask(32)).toBe('255.255.255.255');
    expect(prefixMask(0)).toBe('0.0.0.0');
  });
});
