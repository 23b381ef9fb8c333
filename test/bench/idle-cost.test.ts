import { describe, expect, it } from 'vitest';
import { parseCpuTicks, poolDomain } from './idle-cost.js';

describe('idle pool clone cost', () => {
  it('reads utime + stime from /proc/<pid>/stat, whatever the command name holds', () => {
    // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    const stat = '1234 (qemu-system-x86 (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 12345';
    expect(parseCpuTicks(stat)).toBe(300);
    expect(() => parseCpuTicks('1 (x) S')).toThrow(/unreadable/);
  });

  it('finds the pool clone by its disk under run/pool/, not a VM a take moved to run/vms/', () => {
    const argv: Record<string, string[]> = {
      taken: ['qemu', '-blockdev', '{"driver":"file","filename":"/d/run/vms/a/disk.qcow2"}'],
      pooled: ['qemu', '-blockdev', '{"driver":"file","filename":"/d/run/pool/b/disk.qcow2"}'],
    };
    const of = (n: string) => { if (!argv[n]) throw new Error('gone'); return argv[n]!; };
    expect(poolDomain('/d', ['gone', 'taken', 'pooled'], of)).toBe('pooled');
    expect(poolDomain('/d', ['taken'], of)).toBeNull();
  });
});
