import { describe, expect, it } from 'vitest';
import { NETWORK_TRANSIT_CIDR } from '../../contracts/jobs.js';
import { formatIPv4, netnsName, parseIPv4, prefixLength, tapName, transitCapacity, transitLink, uplinkName } from './names.js';

describe('names of what hostd creates for guest networking', () => {
  it('fit Linux\'s 15-byte interface names and carry forkd\'s prefixes', () => {
    for (const id of ['a', '0195e7a0-1234-7abc-8def-0123456789ab', 'x'.repeat(200)]) {
      expect(tapName(id)).toMatch(/^fkt[0-9a-f]{12}$/);
      expect(uplinkName(id)).toMatch(/^fkh[0-9a-f]{12}$/);
      expect(netnsName(id)).toMatch(/^forkd-n-[0-9a-f]{12}$/);
    }
  });

  it('are stable per id and differ between ids', () => {
    expect(tapName('vm-1')).toBe(tapName('vm-1'));
    expect(tapName('vm-1')).not.toBe(tapName('vm-2'));
    expect(netnsName('net-a')).not.toBe(netnsName('net-b'));
  });
});

describe('IPv4 helpers', () => {
  it('parse and format addresses, and refuse what is not one', () => {
    expect(formatIPv4(parseIPv4('10.89.1.2'))).toBe('10.89.1.2');
    expect(parseIPv4('255.255.255.255')).toBe(2 ** 32 - 1);
    for (const bad of ['10.89.1', '10.89.1.256', 'a.b.c.d', '1.2.3.4.5']) expect(() => parseIPv4(bad)).toThrow();
    expect(prefixLength('10.0.0.0/24')).toBe(24);
    expect(() => prefixLength('10.0.0.0/33')).toThrow();
  });
});

describe('transit links between a network namespace and the host', () => {
  it('are /30s inside the reserved range, host end first', () => {
    expect(NETWORK_TRANSIT_CIDR).toBe('100.127.0.0/16');
    expect(transitLink(0)).toEqual({ host: '100.127.0.1', inner: '100.127.0.2', prefix: 30 });
    expect(transitLink(1)).toEqual({ host: '100.127.0.5', inner: '100.127.0.6', prefix: 30 });
    expect(transitCapacity()).toBe(16384);
    expect(transitLink(16383).inner).toBe('100.127.255.254');
    expect(() => transitLink(16384)).toThrow();
  });
});

describe('the taps a domain names', () => {
  it('are read from its XML, forkd\'s own only', async () => {
    const { tapsInDomainXml } = await import('./taps.js');
    const xml = `<domain><devices><interface type='ethernet'><mac address='0a:f0:4d:00:00:01'/><target dev='fkt0123456789ab' managed='no'/></interface>` +
      `<interface type='ethernet'><target dev="vnet3"/></interface><interface type='ethernet'><target dev="fkt0123456789ab"/></interface></devices></domain>`;
    expect(tapsInDomainXml(xml)).toEqual(['fkt0123456789ab']);
    expect(tapsInDomainXml('')).toEqual([]);
  });
});
