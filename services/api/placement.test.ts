import { describe, expect, it } from 'vitest';
import type { HostInfo } from '../contracts/jobs.js';
import type { PrismaClient } from './db/client.js';
import type { HostJobs, KnownHost } from './host-jobs.js';
import { Placement } from './placement.js';

/** `heartbeat`: the host's announcement carries its capacity (hostd of now); without it, placement asks `host.info` (an older hostd). */
interface FakeHost { up?: boolean; draining?: boolean; freeMib: number; vms: number; answers?: boolean; heartbeat?: boolean }

const infoCalls: string[] = [];

function placement(hosts: Record<string, FakeHost>): Placement {
  const known: KnownHost[] = Object.entries(hosts).map(([hostId, h]) => ({
    hostId, hostname: hostId, pid: 1, startedAt: '', lastSeenAt: '', accel: 'tcg', draining: h.draining ?? false, up: h.up ?? true,
    ...(h.heartbeat ? { facts: { libvirtVersion: '9.0.0', qemuVersion: '7.2.0', capacity: { cpus: 2, memoryMib: 8192, freeMemoryMib: h.freeMib } } } : {}),
  }));
  const hostJobs = {
    listHosts: async () => known,
    call: async (hostId: string) => {
      infoCalls.push(hostId);
      const h = hosts[hostId]!;
      if (h.answers === false) throw new Error('timed out');
      return { hostId, hostname: hostId, accel: 'tcg', libvirtVersion: '', qemuVersion: '', capacity: { cpus: 2, memoryMib: 8192, freeMemoryMib: h.freeMib } } as unknown as HostInfo;
    },
  } as unknown as HostJobs;
  const db = {
    vm: { count: async ({ where }: { where: { hostId: string } }) => hosts[where.hostId]!.vms },
    host: { upsert: async () => ({}) },
  } as unknown as PrismaClient;
  return new Placement(db, hostJobs);
}

describe('a new VM', () => {
  it('goes to the up host with room and the fewest VMs', async () => {
    const p = placement({ a: { freeMib: 4000, vms: 3 }, b: { freeMib: 4000, vms: 1 }, c: { up: false, freeMib: 9000, vms: 0 } });
    expect((await p.pickHost({ memoryMib: 256 })).hostId).toBe('b');
  });

  it('skips a host without the memory, a draining one and one that does not answer', async () => {
    const p = placement({ a: { freeMib: 100, vms: 0 }, b: { draining: true, freeMib: 4000, vms: 0 }, c: { answers: false, freeMib: 4000, vms: 0 }, d: { freeMib: 4000, vms: 5 } });
    expect((await p.pickHost({ memoryMib: 256 })).hostId).toBe('d');
  });

  it('is refused with ERR_NO_CAPACITY when no up host has room', async () => {
    const p = placement({ a: { freeMib: 100, vms: 0 } });
    await expect(p.pickHost({ memoryMib: 256 })).rejects.toMatchObject({ code: 'ERR_NO_CAPACITY' });
    // Positive control: a smaller VM fits.
    expect((await p.pickHost({ memoryMib: 64 })).hostId).toBe('a');
  });
});

describe('a fork', () => {
  it('runs on its source\'s host when that host is up with room', async () => {
    const p = placement({ a: { freeMib: 4000, vms: 9 }, b: { freeMib: 4000, vms: 0 } });
    expect((await p.forkHost('a', 'template t1', 'template', { memoryMib: 256 })).hostId).toBe('a');
  });

  it('is refused with ERR_FORK_CROSS_HOST when its source\'s host is down, draining or full, never sent elsewhere', async () => {
    const p = placement({ down: { up: false, freeMib: 4000, vms: 0 }, drain: { draining: true, freeMib: 4000, vms: 0 }, full: { freeMib: 100, vms: 0 }, other: { freeMib: 9000, vms: 0 } });
    for (const hostId of ['down', 'drain', 'full', 'gone']) {
      const err = await p.forkHost(hostId, 'template t1', 'template', { memoryMib: 256 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_FORK_CROSS_HOST', field: 'template' });
      expect((err as Error).message).toMatch(/forks cannot cross hosts/);
    }
    // Positive control: the up host with room takes it.
    expect((await p.forkHost('other', 'template t1', 'template', { memoryMib: 256 })).hostId).toBe('other');
  });
});

describe('capacity from the heartbeat', () => {
  it('places by the free memory the heartbeats carry, asking no host a host.info job (a busy hostd cannot hold a create)', async () => {
    infoCalls.length = 0;
    // `answers: false`: a host.info job would time out; the heartbeat's facts are enough.
    const p = placement({ a: { heartbeat: true, answers: false, freeMib: 100, vms: 0 }, b: { heartbeat: true, answers: false, freeMib: 4000, vms: 2 } });
    const host = await p.pickHost({ memoryMib: 256 });
    expect(host).toMatchObject({ hostId: 'b', qemuVersion: '7.2.0', capacity: { freeMemoryMib: 4000 } });
    expect((await p.forkHost('b', 'template t1', 'template', { memoryMib: 256 })).hostId).toBe('b');
    expect((await p.hostInfo('b')).hostId).toBe('b');
    await expect(p.forkHost('a', 'template t1', 'template', { memoryMib: 256 })).rejects.toMatchObject({ code: 'ERR_FORK_CROSS_HOST' });
    expect(infoCalls).toEqual([]);
  });

  it('asks host.info only of a host whose heartbeat has no capacity (an older hostd)', async () => {
    infoCalls.length = 0;
    const p = placement({ old: { freeMib: 4000, vms: 0 }, now: { heartbeat: true, freeMib: 4000, vms: 1 } });
    expect((await p.pickHost({ memoryMib: 256 })).hostId).toBe('old');
    expect(infoCalls).toEqual(['old']);
  });
});
