import { describe, expect, it } from 'vitest';
import { parseLdd } from './ldd.js';

describe('parseLdd', () => {
  it('lists the paths the loader opens, loader included, vdso excluded', () => {
    const out = `\tlinux-vdso.so.1 (0x00007ffd)
\tlibsystemd.so.0 => /lib/x86_64-linux-gnu/libsystemd.so.0 (0x00007f2d)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2d)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f2d)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2d)
`;
    expect(parseLdd(out)).toEqual(['/lib/x86_64-linux-gnu/libsystemd.so.0', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('fails loudly on a missing library', () => {
    expect(() => parseLdd('\tlibyajl.so.2 => not found\n')).toThrow(/missing on the host/);
  });
});
