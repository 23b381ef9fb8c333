import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostnameFor } from './vm-manager.js';
import { assertVmId, domainNameOf, parseDomainMetadata, readVmRecord, writeVmRecord, type VmRecord } from './vm-record.js';

describe('vm-record', () => {
  it('parses forkd metadata in either quote style, with escapes, and refuses what is not ours', () => {
    expect(parseDomainMetadata(`<forkd:domain xmlns:forkd="https://forkd.dev/xmlns/domain/1" vm="abc" host="h-1" kind="vm" created="x"/>`)).toEqual({ vm: 'abc', host: 'h-1', kind: 'vm' });
    expect(parseDomainMetadata(`<domain vm='a&amp;b' host='h' kind='tmpl'/>`)).toEqual({ vm: 'a&b', host: 'h', kind: 'tmpl' });
    expect(parseDomainMetadata(`<domain vm='a' kind='vm'/>`)).toBeNull();
    expect(parseDomainMetadata(null)).toBeNull();
    // `myhost=` must not be read as `host=`.
    expect(parseDomainMetadata(`<d vm='a' myhost='x' kind='vm'/>`)).toBeNull();
  });

  it('accepts ids that make a domain name and a directory, and nothing else', () => {
    for (const ok of ['a', '6fd97366-8353-4325-8479-ec32d86e4bf7', 'A_b-9']) expect(() => assertVmId(ok)).not.toThrow();
    for (const bad of ['', '../x', 'a/b', '-a', 'a.b', 'x'.repeat(56), 'é']) expect(() => assertVmId(bad)).toThrow(/invalid VM id/);
    expect(domainNameOf('abc')).toBe('forkd-vm-abc');
    expect(domainNameOf('x'.repeat(55)).length).toBeLessThanOrEqual(64);
  });

  it('gives every id a valid hostname vm-<short id>', () => {
    expect(hostnameFor('6fd97366-8353-4325-8479-ec32d86e4bf7')).toBe('vm-6fd973668353');
    expect(hostnameFor('A_B')).toBe('vm-ab');
    expect(hostnameFor('__')).toBe('vm-0');
  });

  it('writes the record atomically and reads back null for a missing or garbled one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forkd-vmrec-'));
    try {
      const rec: VmRecord = { vmId: 'a', hostId: 'h', accel: 'tcg', boot: 'cold', createdAt: 'now', vcpus: 1, memoryMib: 256, hostname: 'vm-a', ports: [], timings: { bootMs: 1 } };
      await writeVmRecord(join(dir, 'vm.json'), rec);
      expect(await readVmRecord(join(dir, 'vm.json'))).toEqual(rec);
      expect(await readVmRecord(join(dir, 'none.json'))).toBeNull();
      writeFileSync(join(dir, 'bad.json'), '{"vmId": 1');
      expect(await readVmRecord(join(dir, 'bad.json'))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets writes of one record run at once, each complete, none failing (a pod\'s containers removed together)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forkd-vmrec-'));
    try {
      const rec = (n: number): VmRecord => ({ vmId: 'a', hostId: 'h', accel: 'tcg', boot: 'cold', createdAt: 'now', vcpus: 1, memoryMib: 256, hostname: `vm-${n}`, ports: [], timings: { bootMs: n } });
      const path = join(dir, 'vm.json');
      await Promise.all(Array.from({ length: 8 }, (_, i) => writeVmRecord(path, rec(i))));
      const read = await readVmRecord(path);
      expect(Array.from({ length: 8 }, (_, i) => rec(i))).toContainEqual(read);
      // No temporary file is left behind.
      expect(readdirSync(dir)).toEqual(['vm.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
