// The in-process system calls bind on the host too (koffi from node_modules);
// only calls without an effect on the host are made here. The guest's own
// effects (clock, MAC, credited entropy) are checked in test/teardown.test.ts
// and the fork tests through identity.set.
import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
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

  // A process in a UTS namespace of its own stands in for a container's init (root and util-linux's unshare needed).
  const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-u', 'true']).status === 0;
  it.skipIf(!canUnshare)('sets the hostname inside another process\'s UTS namespace and comes back to its own', async () => {
    const before = hostname();
    const child = spawn('unshare', ['-u', 'sleep', '30'], { stdio: 'ignore' });
    try {
      // unshare execs sleep in the new namespace: wait until the pid's namespace differs from ours.
      const ns = (pid: number | string) => spawnSync('readlink', [`/proc/${pid}/ns/uts`]).stdout.toString().trim();
      for (let i = 0; i < 100 && ns(child.pid!) === ns('self'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(ns(child.pid!)).not.toBe(ns('self'));
      sysCalls()!.setUtsHostname(child.pid!, 'forkd-uts-test');
      expect(spawnSync('nsenter', ['-u', '-t', String(child.pid), 'hostname']).stdout.toString().trim()).toBe('forkd-uts-test');
      // The agent's own thread is back in its namespace: its name is unchanged.
      expect(hostname()).toBe(before);
      expect(spawnSync('hostname').stdout.toString().trim()).toBe(before);
    } finally {
      child.kill('SIGKILL');
    }
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
