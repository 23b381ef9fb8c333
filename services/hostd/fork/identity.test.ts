import { describe, expect, it } from 'vitest';
import { FORKD_MAC_PREFIX, newIdentity, newMac, newMachineId, uuidFrom, type CloneIdentity } from './identity.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newIdentity', () => {
  it('fills every field in the right format', () => {
    const id = newIdentity();
    expect(id.id).toMatch(/^[0-9a-f]{12}$/);
    expect(id.name).toBe(`forkd-vm-${id.id}`);
    expect(id.hostname).toBe(`forkd-${id.id}`);
    expect(id.uuid).toMatch(UUID_RE);
    expect(id.genid).toMatch(UUID_RE);
    expect(id.machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(Buffer.from(id.entropy, 'base64')).toHaveLength(64);
    expect(id.mac.startsWith(`${FORKD_MAC_PREFIX}:`)).toBe(true);
  });

  it('uses a locally administered unicast MAC, never QEMU\'s 52:54:00', () => {
    const first = parseInt(FORKD_MAC_PREFIX.slice(0, 2), 16);
    expect(first & 0x02).toBe(0x02);
    expect(first & 0x01).toBe(0);
    expect(newIdentity().mac).not.toMatch(/^52:54:00/);
  });

  it('never shares any field between two identities', () => {
    const ids: CloneIdentity[] = Array.from({ length: 200 }, () => newIdentity());
    for (const field of ['id', 'name', 'uuid', 'mac', 'machineId', 'hostname', 'entropy', 'genid'] as const) {
      expect(new Set(ids.map((i) => i[field])).size, field).toBe(ids.length);
    }
    const a = ids[0]!;
    expect(a.uuid).not.toBe(a.genid);
  });

  it('takes a given id and hostname', () => {
    const id = newIdentity({ id: 'abc', hostname: 'web-1' });
    expect(id.name).toBe('forkd-vm-abc');
    expect(id.hostname).toBe('web-1');
    expect(() => newIdentity({ id: 'Bad Id' })).toThrow();
    expect(() => newIdentity({ hostname: '-x' })).toThrow();
  });
});

describe('newMac', () => {
  it('avoids MACs already taken, whatever their case', () => {
    // A random source that first repeats a taken address, then gives a new one.
    const seq = [
      [0xaa, 0xbb, 0xcc],
      [0xaa, 0xbb, 0xcc],
      [0x01, 0x02, 0x03],
    ];
    let i = 0;
    const rng = (n: number): Uint8Array => Uint8Array.from(seq[i++]!.slice(0, n));
    expect(newMac(new Set([`${FORKD_MAC_PREFIX.toUpperCase()}:AA:BB:CC`]), rng)).toBe(`${FORKD_MAC_PREFIX}:01:02:03`);
  });

  it('gives up instead of looping forever on a broken random source', () => {
    const rng = (n: number): Uint8Array => new Uint8Array(n);
    expect(() => newMac(new Set([`${FORKD_MAC_PREFIX}:00:00:00`]), rng)).toThrow(/no free MAC/);
  });
});

describe('helpers', () => {
  it('uuidFrom sets version 4 and the RFC 4122 variant', () => {
    expect(uuidFrom(new Uint8Array(16).fill(0xff))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    expect(uuidFrom(new Uint8Array(16))).toBe('00000000-0000-4000-8000-000000000000');
  });

  it('newMachineId never returns all zeros', () => {
    let calls = 0;
    const rng = (n: number): Uint8Array => (calls++ === 0 ? new Uint8Array(n) : new Uint8Array(n).fill(1));
    expect(newMachineId(rng)).toBe('01'.repeat(16));
  });
});
