import { describe, expect, it } from 'vitest';
import type { NetworkAttachment } from '../../contracts/jobs.js';
import type { VmRecord } from '../vm/vm-record.js';
import { guestNetworkFor, hostNameservers } from './guest-network.js';
import { peerEntries } from './vm-networks.js';

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

  it('drops names a hosts file cannot carry', () => {
    expect(peerEntries([rec('vm-a', att({ aliases: ['ok.name', 'bad name', '-dash'] }))])[0]!.names).toEqual(['ok.name', 'vm-a']);
  });
});
