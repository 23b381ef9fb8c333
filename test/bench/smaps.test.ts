import { describe, expect, it } from 'vitest';
import { parseMeminfo, parsePidFile, parseSmapsPss, parseSmapsVmas, splitPss } from './smaps.js';

const ROLLUP = `555f6a3b8000-7fff50e86000 ---p 00000000 00:00 0                          [rollup]
Rss:              123456 kB
Pss:               40960 kB
Pss_Dirty:         10240 kB
Pss_Anon:          10240 kB
Pss_File:          30720 kB
Pss_Shmem:             0 kB
Shared_Clean:     100000 kB
Private_Dirty:     10240 kB
SwapPss:               0 kB
`;

describe('parseSmapsPss', () => {
  it('reads Pss from smaps_rollup, not Pss_Anon/Pss_File/SwapPss', () => {
    expect(parseSmapsPss(ROLLUP)).toEqual({ pssKib: 40960, anonKib: 10240, fileKib: 30720, shmemKib: 0, rssKib: 123456 });
  });

  it('sums every mapping of a full smaps', () => {
    const smaps = `00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/qemu
Size:                328 kB
Rss:                 300 kB
Pss:                 100 kB
Pss_File:            100 kB
7f0000000000-7f0010000000 rw-p 00000000 00:00 0
Size:             262144 kB
Rss:                2048 kB
Pss:                2048 kB
Pss_Anon:           2048 kB
`;
    expect(parseSmapsPss(smaps)).toMatchObject({ pssKib: 2148, anonKib: 2048, fileKib: 100, rssKib: 2348 });
  });

  it('refuses text without a Pss line (not an smaps file)', () => {
    expect(() => parseSmapsPss('Rss: 1 kB\n')).toThrow(/no Pss/);
  });
});

describe('parseMeminfo and parsePidFile', () => {
  it('reads /proc/meminfo fields in KiB', () => {
    const m = parseMeminfo('MemTotal:       24683888 kB\nMemFree:        22129012 kB\nMemAvailable:   23103340 kB\nHugePages_Total:       0\nActive(file):     497136 kB\n');
    expect(m['MemAvailable']).toBe(23103340);
    expect(m['HugePages_Total']).toBe(0);
    expect(m['Active(file)']).toBe(497136);
  });

  it('reads a pid with or without a newline and rejects junk', () => {
    expect(parsePidFile('4242\n')).toBe(4242);
    expect(parsePidFile('17')).toBe(17);
    expect(() => parsePidFile('')).toThrow();
    expect(() => parsePidFile('abc')).toThrow();
    expect(() => parsePidFile('-3')).toThrow();
  });
});

describe('parseSmapsVmas and splitPss', () => {
  // Shaped like a TCG clone's QEMU: heap, guest RAM from the template's memory file, TCG's rwx code buffer.
  const SMAPS = `564bdbf30000-564bdd13b000 rw-p 00000000 00:00 0                          [heap]
Size:              18476 kB
Rss:                6100 kB
Pss:                6056 kB
7fa70bdff000-7fa71bdff000 rw-p 00000000 fe:00 2149590                    /var/bench/work-1/tmpl/memory
Size:             262144 kB
Pss:               42176 kB
Pss_File:          30000 kB
7fa72c000000-7fa76bfff000 rwxp 00000000 00:00 0 
Size:            1048572 kB
Pss:               75776 kB
7fa7aa000000-7fa7aa100000 r-xp 00000000 fe:00 12 /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1024 kB
Pss:                 200 kB
`;

  it('reads every mapping with its permissions, path, size and Pss', () => {
    const v = parseSmapsVmas(SMAPS);
    expect(v).toHaveLength(4);
    expect(v[0]).toEqual({ perms: 'rw-p', path: '[heap]', sizeKib: 18476, pssKib: 6056 });
    expect(v[1]!.path).toBe('/var/bench/work-1/tmpl/memory');
    expect(v[2]).toEqual({ perms: 'rwxp', path: '', sizeKib: 1048572, pssKib: 75776 });
  });

  it('splits PSS into guest RAM (the guest-sized mapping), the TCG code buffer and the rest', () => {
    expect(splitPss(parseSmapsVmas(SMAPS), 256)).toEqual({ guestRamKib: 42176, tcgCodeKib: 75776, otherKib: 6256 });
  });

  it('finds no TCG buffer under KVM and no guest RAM when the size does not match', () => {
    const kvm = SMAPS.replace('rwxp', 'rw-p');
    expect(splitPss(parseSmapsVmas(kvm), 256).tcgCodeKib).toBe(0);
    expect(splitPss(parseSmapsVmas(SMAPS), 512).guestRamKib).toBe(0);
  });
});
