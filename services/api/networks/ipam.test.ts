import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { autoSubnet, formatCidr, gatewayOf, lowestFree, overlaps, parseIpv4, parseSubnet, vmCapacity } from './ipam.js';

const subnetError = (text: string): ForkdError => {
  try {
    parseSubnet(text);
  } catch (err) {
    return err as ForkdError;
  }
  throw new Error(`${text} was accepted`);
};

describe('ipam', () => {
  it('parses dotted quads strictly', () => {
    expect(parseIpv4('10.89.0.1')).toBe(0x0a590001);
    expect(parseIpv4('255.255.255.255')).toBe(2 ** 32 - 1);
    for (const bad of ['10.89.0', '10.89.0.1.2', '10.89.0.256', '10.089.0.1', '10.89.0.-1', '', 'a.b.c.d', '10.89.0.1 ']) {
      expect(parseIpv4(bad), bad).toBeUndefined();
    }
  });

  it('accepts aligned subnets from /16 to /29', () => {
    expect(formatCidr(parseSubnet('10.89.1.0/24'))).toBe('10.89.1.0/24');
    expect(formatCidr(parseSubnet('172.20.0.0/16'))).toBe('172.20.0.0/16');
    expect(formatCidr(parseSubnet('192.168.7.8/29'))).toBe('192.168.7.8/29');
  });

  it('rejects malformed, unaligned, too wide or narrow, and reserved subnets with ERR_VALIDATION on `subnet`', () => {
    for (const bad of ['10.89.1.0', '10.89.1.0/', '10.89.1/24', 'ten/24', '10.89.1.0/24/1', '10.89.1.0/abc', '300.1.1.0/24']) {
      const e = subnetError(bad);
      expect(e, bad).toBeInstanceOf(ForkdError);
      expect(e.code).toBe('ERR_VALIDATION');
      expect(e.field).toBe('subnet');
    }
    expect(subnetError('10.0.0.5/24').message).toMatch(/not aligned.*10\.0\.0\.0\/24/);
    expect(subnetError('10.0.0.0/8').message).toMatch(/\/16 to \/29/);
    expect(subnetError('10.0.0.0/30').message).toMatch(/\/16 to \/29/);
    expect(subnetError('100.127.4.0/24').message).toMatch(/100\.127\.0\.0\/16/);
    expect(subnetError('127.1.0.0/16').message).toMatch(/loopback/);
    expect(subnetError('169.254.1.0/24').message).toMatch(/link-local/);
    expect(subnetError('230.0.0.0/24').message).toMatch(/multicast/);
  });

  it('tells overlapping subnets apart from neighbours', () => {
    const p = parseSubnet;
    expect(overlaps(p('10.89.0.0/24'), p('10.89.0.128/25'))).toBe(true);
    expect(overlaps(p('10.89.0.0/16'), p('10.89.200.0/24'))).toBe(true);
    expect(overlaps(p('10.89.0.0/24'), p('10.89.1.0/24'))).toBe(false);
    expect(overlaps(p('10.89.0.0/25'), p('10.89.0.128/25'))).toBe(false);
    expect(overlaps(p('10.89.0.0/24'), p('10.89.0.0/24'))).toBe(true);
  });

  it('puts the gateway first and hands out the lowest free host address, never network, gateway or broadcast', () => {
    const c = parseSubnet('10.89.3.0/29'); // .0 network, .1 gateway, .2–.6 VMs, .7 broadcast
    expect(gatewayOf(c)).toBe('10.89.3.1');
    expect(vmCapacity(c)).toBe(5);
    expect(lowestFree(c, new Set())).toBe('10.89.3.2');
    expect(lowestFree(c, new Set(['10.89.3.2', '10.89.3.4']))).toBe('10.89.3.3');
    expect(lowestFree(c, new Set(['10.89.3.2', '10.89.3.3', '10.89.3.4', '10.89.3.5']))).toBe('10.89.3.6');
    expect(lowestFree(c, new Set(['10.89.3.2', '10.89.3.3', '10.89.3.4', '10.89.3.5', '10.89.3.6']))).toBeUndefined();
  });

  it('picks the first free 10.89.N.0/24 after the default network', () => {
    const p = parseSubnet;
    expect(autoSubnet([p('10.89.0.0/24')])).toBe('10.89.1.0/24');
    expect(autoSubnet([p('10.89.0.0/24'), p('10.89.1.0/24'), p('10.89.3.0/24')])).toBe('10.89.2.0/24');
    expect(autoSubnet([p('10.89.0.0/24'), p('10.89.1.128/25')])).toBe('10.89.2.0/24');
    expect(autoSubnet([p('10.89.0.0/16')])).toBeUndefined();
  });
});
