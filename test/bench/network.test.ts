import { describe, expect, it } from 'vitest';
import type { NetworkAttachment } from '../../services/contracts/jobs.js';
import type { Logger } from '../../services/contracts/logger.js';
import type { AttachTimings } from '../../services/hostd/network/tenant-networks.js';
import type { NetworkAgent } from '../../services/hostd/network/vm-networks.js';
import { AddressPool, benchAttachment, BenchNetwork, BENCH_SUBNET, networkSteps, nicDescription } from './network.js';

const quiet = { warn: () => undefined } as unknown as Logger;

describe('the bench network\'s addresses', () => {
  it('hands out the lowest free address after the gateway and takes freed ones back', () => {
    const pool = new AddressPool('10.89.200.0/22');
    expect([pool.take(), pool.take(), pool.take()]).toEqual(['10.89.200.2', '10.89.200.3', '10.89.200.4']);
    pool.free('10.89.200.3');
    expect(pool.take()).toBe('10.89.200.3');
    expect(pool.take()).toBe('10.89.200.5');
    expect(pool.inUse).toBe(4);
  });

  it('has room for the 64-clone scaling step many times over, and says when it is full', () => {
    expect(new AddressPool(BENCH_SUBNET).capacity).toBe(1021);
    const small = new AddressPool('10.89.201.0/29');
    const got = Array.from({ length: small.capacity }, () => small.take());
    expect(got).toEqual(['10.89.201.2', '10.89.201.3', '10.89.201.4', '10.89.201.5', '10.89.201.6']);
    expect(() => small.take()).toThrow(/no free address \(5 VMs on it\)/);
  });

  it('crosses /24 boundaries inside the /22', () => {
    const pool = new AddressPool(BENCH_SUBNET);
    for (let i = 0; i < 254; i++) pool.take();
    expect(pool.take()).toBe('10.89.201.0');
  });
});

describe('the bench network\'s attachment', () => {
  it('is internal, tenant bench, named after the process, gateway first', () => {
    expect(benchAttachment(4242)).toEqual({
      networkId: 'bench-4242', tenantId: 'bench', name: 'bench-4242', subnet: '10.89.200.0/22', gateway: '10.89.200.1', internal: true, aliases: [],
    });
  });

  it('names hostd\'s join timings as steps', () => {
    const steps = networkSteps({ networkEnsureMs: 1, networkTapMs: 20, networkGuestMs: 300, networkPeersMs: 40, networkMs: 350, other: 9 });
    expect(steps).toEqual({ network: 350, networkEnsure: 1, networkTap: 20, networkGuest: 300, networkPeers: 40 });
    expect(Object.keys(steps)[0]).toBe('network'); // the step table lists the whole before its parts
  });

  it('describes the NIC in the report', () => {
    expect(nicDescription('none', null)).toBe('none (FORKD_NETWORK=none): no network step');
    expect(nicDescription('tenant', benchAttachment(7))).toBe('tap on tenant network bench-7 (10.89.200.0/22, internal), joined in every mode but save/restore (FORKD_NETWORK=tenant)');
  });
});

describe('joining bench VMs', () => {
  function fixture(failAttach = false) {
    const log: string[] = [];
    const nets = {
      attach: async (tap: string, att: NetworkAttachment): Promise<AttachTimings> => {
        if (failAttach) throw new Error('no such tap');
        log.push(`attach ${tap} ${att.address}`);
        return { ensureMs: 0, tapMs: 5 };
      },
      ensure: async () => undefined,
      remove: async () => true,
    };
    const agent = (vm: string): NetworkAgent => ({
      call: async (method: string, params: unknown) => {
        log.push(`${vm} ${method} ${JSON.stringify(params)}`);
        return {};
      },
    }) as NetworkAgent;
    return { log, agent, net: new BenchNetwork(nets, benchAttachment(1), quiet) };
  }

  it('gives each VM the next address, tells every member the names, and times the step', async () => {
    const { log, agent, net } = fixture();
    const steps = await net.join({ vmId: 'a', tap: 'fkta', agent: agent('a'), hostname: 'vm-a' });
    expect(Object.keys(steps).sort()).toEqual(['network', 'networkEnsure', 'networkGuest', 'networkPeers', 'networkTap']);
    expect(steps['networkTap']).toBe(5);
    await net.join({ vmId: 'b', tap: 'fktb', agent: agent('b'), hostname: 'vm-b' });
    expect(log).toContain('attach fkta 10.89.200.2');
    expect(log).toContain('a identity.set {"network":{"interface":"eth0","address":"10.89.200.2/22","dns":[]}}');
    expect(log).toContain('attach fktb 10.89.200.3');
    const both = JSON.stringify({ entries: [{ address: '10.89.200.2', names: ['vm-a'] }, { address: '10.89.200.3', names: ['vm-b'] }] });
    // b got the list as part of its join; a catches up in the background.
    expect(log).toContain(`b network.hosts ${both}`);
    await net.settled();
    const last = (vm: string): string | undefined => log.filter((l) => l.startsWith(`${vm} network.hosts`)).at(-1);
    expect(last('a')).toBe(`a network.hosts ${both}`);
    expect(last('b')).toBe(`b network.hosts ${both}`);
    expect(net.members).toBe(2);
  });

  it('frees the address of a VM that left, and of a join that failed', async () => {
    const { agent, net } = fixture();
    await net.join({ vmId: 'a', tap: 'fkta', agent: agent('a'), hostname: 'vm-a' });
    net.leave('a');
    net.leave('a');
    expect(net.members).toBe(0);
    expect(net.addresses.inUse).toBe(0);

    const failing = fixture(true);
    await expect(failing.net.join({ vmId: 'x', tap: 'fktx', agent: failing.agent('x'), hostname: 'vm-x' })).rejects.toThrow('no such tap');
    expect(failing.net.addresses.inUse).toBe(0);
    expect(failing.net.members).toBe(0);
  });

  it('refuses a VM without a tap', async () => {
    const { agent, net } = fixture();
    await expect(net.join({ vmId: 'a', tap: null, agent: agent('a'), hostname: 'vm-a' })).rejects.toThrow(/has no tap/);
    expect(net.addresses.inUse).toBe(0);
  });
});
