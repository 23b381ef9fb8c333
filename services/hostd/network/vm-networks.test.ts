import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NetworkAttachment } from '../../contracts/jobs.js';
import type { Logger } from '../../contracts/logger.js';
import type { VmRecord } from '../vm/vm-record.js';
import { guestNetworkFor, hostNameservers } from './guest-network.js';
import type { AttachTimings } from './tenant-networks.js';
import { ForkJoin, joinGuest, PeerBroadcaster, peerEntries, publishPeerNames, VmNetworks, type NetworkAgent, type NetworkMember } from './vm-networks.js';

const att = (over: Partial<NetworkAttachment> = {}): NetworkAttachment => ({
  networkId: 'n1', tenantId: 't1', name: 'app', subnet: '10.89.1.0/24', gateway: '10.89.1.1', address: '10.89.1.2', internal: false, aliases: ['web'], ...over,
});
const rec = (hostname: string, network?: NetworkAttachment): { record: VmRecord } => ({
  record: { vmId: hostname, hostId: 'h', accel: 'tcg', boot: 'cold', createdAt: '', vcpus: 1, memoryMib: 256, hostname, ports: [], timings: {}, ...(network ? { network } : {}) },
});

describe('what a guest is told about its network', () => {
  it('its address with the prefix, the gateway as default route and the host\'s resolvers', () => {
    expect(guestNetworkFor(att(), ['192.0.2.53'])).toEqual({ interface: 'eth0', address: '10.89.1.2/24', gateway: '10.89.1.1', dns: ['192.0.2.53'] });
  });

  it('on an internal network: no route and no resolver', () => {
    expect(guestNetworkFor(att({ internal: true }), ['192.0.2.53'])).toEqual({ interface: 'eth0', address: '10.89.1.2/24', dns: [] });
  });

  it('never a loopback resolver: in the guest that would be the guest itself', () => {
    expect(hostNameservers('nameserver 127.0.0.53\nnameserver 192.0.2.1\n# nameserver 192.0.2.9\nnameserver ::1\n')).toEqual(['192.0.2.1']);
  });
});

describe('peer names on a network', () => {
  it('lists each member with its aliases and hostname, in address order', () => {
    const entries = peerEntries([
      rec('vm-b', att({ address: '10.89.1.10', aliases: ['client'] })),
      rec('vm-a', att({ address: '10.89.1.2', aliases: ['web', 'web'] })),
      rec('vm-detached'),
    ]);
    expect(entries).toEqual([
      { address: '10.89.1.2', names: ['web', 'vm-a'] },
      { address: '10.89.1.10', names: ['client', 'vm-b'] },
    ]);
  });

  it('gives a pod\'s address every container name, in lines of at most 8 names', () => {
    const names = Array.from({ length: 10 }, (_, i) => `c${i}`);
    const entries = peerEntries([rec('vm-pod', att({ aliases: names }))]);
    expect(entries).toEqual([
      { address: '10.89.1.2', names: names.slice(0, 8) },
      { address: '10.89.1.2', names: [...names.slice(8), 'vm-pod'] },
    ]);
  });

  it('drops names a hosts file cannot carry', () => {
    expect(peerEntries([rec('vm-a', att({ aliases: ['ok.name', 'bad name', '-dash'] }))])[0]!.names).toEqual(['ok.name', 'vm-a']);
  });
});

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

const flush = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve(); };

describe('joining a guest to its network', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('attaches the tap and tells the guest its address at the same time, then announces, and times each part', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000);
    const host = deferred<AttachTimings>();
    const guest = deferred<unknown>();
    const calls: string[] = [];
    const nets = { attach: (tap: string) => { calls.push(`attach ${tap}`); return host.promise; } };
    const agent = { call: (method: string, params: unknown) => { calls.push(`${method} ${JSON.stringify(params)}`); return guest.promise; } } as NetworkAgent;
    const joined = joinGuest(nets, 'fkt0', agent, att({ internal: true }), ['192.0.2.53'], async () => {
      calls.push('announce');
      vi.setSystemTime(1_070);
    });
    await flush();
    expect(calls).toEqual(['attach fkt0', 'identity.set {"network":{"interface":"eth0","address":"10.89.1.2/24","dns":[]}}']);
    vi.setSystemTime(1_030);
    guest.resolve({});
    await flush();
    expect(calls).not.toContain('announce');
    vi.setSystemTime(1_050);
    host.resolve({ ensureMs: 12, tapMs: 8 });
    expect(await joined).toEqual({ networkEnsureMs: 12, networkTapMs: 8, networkGuestMs: 30, networkPeersMs: 20, networkMs: 70 });
    expect(calls[2]).toBe('announce');
  });

  it('only attaches the tap and announces when the fork\'s identity.set already gave the guest its address', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(2_000);
    const calls: string[] = [];
    const nets = { attach: async (tap: string) => { calls.push(`attach ${tap}`); vi.setSystemTime(2_040); return { ensureMs: 0, tapMs: 40 }; } };
    const joined = await joinGuest(nets, 'fkt1', null, att({ internal: true }), ['192.0.2.53'], async () => {
      calls.push('announce');
      vi.setSystemTime(2_055);
    });
    expect(calls).toEqual(['attach fkt1', 'announce']);
    expect(joined).toEqual({ networkEnsureMs: 0, networkTapMs: 40, networkPeersMs: 15, networkMs: 55 });
  });

  it('only announces when the fork also attached the tap (ForkJoin), and reports that attach\'s timings', async () => {
    const calls: string[] = [];
    const nets = { attach: async (tap: string) => { calls.push(`attach ${tap}`); return { ensureMs: 5, tapMs: 60 }; } };
    const fork = new ForkJoin({ interface: 'eth0', address: '10.89.1.2/24', dns: [] }, [], nets, att({ internal: true }));
    await fork.attachTap('fkt2');
    expect(fork.attachedTimings('fkt-other')).toBeNull(); // a take that failed over to a fresh fork attached another tap
    const joined = await joinGuest(nets, 'fkt2', null, att({ internal: true }), [], async () => { calls.push('announce'); }, fork.attachedTimings('fkt2')!);
    expect(calls).toEqual(['attach fkt2', 'announce']);
    expect(joined).toMatchObject({ networkEnsureMs: 5, networkTapMs: 60 });
  });

  it('sends every member the same names, and a member that fails does not stop the others', async () => {
    const sent: Array<{ vm: string; params: unknown }> = [];
    const warn = vi.fn();
    const member = (vmId: string, address: string, fail = false) => ({
      vmId,
      agent: { call: async (_m: string, params: unknown) => { sent.push({ vm: vmId, params }); if (fail) throw new Error('gone'); } } as NetworkAgent,
      record: { hostname: vmId, network: att({ address, aliases: [] }) },
    });
    await publishPeerNames([member('vm-a', '10.89.1.2'), member('vm-b', '10.89.1.3', true)], 'n1', { warn } as unknown as Logger);
    const entries = [{ address: '10.89.1.2', names: ['vm-a'] }, { address: '10.89.1.3', names: ['vm-b'] }];
    expect(sent).toEqual([{ vm: 'vm-a', params: { entries } }, { vm: 'vm-b', params: { entries } }]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![1]).toMatchObject({ vm: 'vm-b', network: 'n1' });
  });
});

describe('peer names kept current in the background', () => {
  const quietLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quietLog } as never;
  const member = (vmId: string, address: string, calls: string[], gate?: Promise<void>): NetworkMember => ({
    vmId,
    record: { hostname: vmId, network: { networkId: 'n', tenantId: 't', name: 'app', subnet: '10.0.0.0/24', gateway: '10.0.0.1', address, internal: true, aliases: [] } },
    agent: { call: async (_m: string, p: unknown) => { await gate; calls.push(`${vmId}:${(p as { entries: unknown[] }).entries.length}`); return {}; } } as unknown as NetworkAgent,
  });

  it('a newcomer waits only for its own list; the others catch up after', async () => {
    const calls: string[] = [];
    let open!: () => void;
    const slow = new Promise<void>((r) => (open = r));
    const members = [member('old', '10.0.0.2', calls, slow), member('new', '10.0.0.3', calls)];
    const peers = new PeerBroadcaster(() => members, quietLog);
    await peers.welcome(members[1]!, 'n'); // returns although `old` has not answered yet
    expect(calls[0]).toBe('new:2');
    expect(calls.some((c) => c.startsWith('old'))).toBe(false);
    open();
    await peers.settled();
    expect(calls.filter((c) => c.startsWith('old'))).toEqual(['old:2']);
  });

  it('coalesces changes: a burst is sent as few rounds, and the last round has the latest list', async () => {
    const calls: string[] = [];
    const members = [member('a', '10.0.0.2', calls)];
    const peers = new PeerBroadcaster(() => members, quietLog);
    for (let i = 3; i < 8; i++) {
      members.push(member(`m${i}`, `10.0.0.${i}`, calls));
      peers.schedule('n');
    }
    await peers.settled();
    const toA = calls.filter((c) => c.startsWith('a:'));
    expect(toA.length).toBeLessThanOrEqual(2);
    expect(toA.at(-1)).toBe('a:6');
  });
});

describe('a fork joining its network (VmNetworks.forkJoin, join with `fork`)', () => {
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quiet } as unknown as Logger;

  it('gives the fork the names of the network\'s members and its own, and join then only records it and updates the others in the background', async () => {
    const sent: Array<{ vm: string; entries: unknown }> = [];
    const member = (hostname: string, network?: NetworkAttachment) => ({
      vmId: hostname, ...rec(hostname, network),
      agent: { call: async (_m: string, p: { entries: unknown }) => { sent.push({ vm: hostname, entries: p.entries }); } },
    });
    const running = [member('vm-a', att({ address: '10.89.1.2', aliases: ['db'] })), member('vm-other', att({ networkId: 'n2', address: '10.89.2.2', aliases: [] }))];
    const attached: string[] = [];
    const nets = { attach: async (tap: string) => { attached.push(tap); return { ensureMs: 0, tapMs: 1 }; } };
    const networks = new VmNetworks(nets as never, {} as never, () => running as never, quiet, []);
    const mine = att({ address: '10.89.1.3', aliases: ['web'] });
    const fork = networks.forkJoin(mine, 'vm-new');
    expect(fork.hosts).toEqual([{ address: '10.89.1.2', names: ['db', 'vm-a'] }, { address: '10.89.1.3', names: ['web', 'vm-new'] }]);
    expect(fork.network).toEqual(guestNetworkFor(mine, []));
    await fork.attachTap('fkt-new');
    const newcomer = { ...member('vm-new'), record: { ...member('vm-new').record, tap: 'fkt-new' } };
    running.push(newcomer as never);
    await networks.join(newcomer as never, mine, { fork });
    expect(attached).toEqual(['fkt-new']); // once, by the fork
    expect(newcomer.record.network).toEqual(mine);
    await networks.peers.settled();
    // The background round reached every member of n1, the newcomer too; n2's member heard nothing.
    expect(sent.map((s) => s.vm).sort()).toEqual(['vm-a', 'vm-new']);
  });
});
