import { describe, expect, it } from 'vitest';

import { ErrorCode, ErrorDomain, LibvirtError, errorCodeName, freedHandleError, type RawLibvirtError } from './errors.js';

const raw = (code: number, domain: number, message = 'm'): RawLibvirtError => ({
  code,
  domain,
  message,
  level: 2,
  str1: null,
  str2: null,
  str3: null,
  int1: -1,
  int2: -1,
});

describe('LibvirtError', () => {
  it('keeps libvirt numbers and message and names them', () => {
    const e = new LibvirtError('virDomainLookupByName', raw(42, 10, "Domain not found: no domain with matching name 'x'"));
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('LibvirtError');
    expect(e.code).toBe(ErrorCode.VIR_ERR_NO_DOMAIN);
    expect(e.codeName).toBe('VIR_ERR_NO_DOMAIN');
    expect(e.domainName).toBe('VIR_FROM_QEMU');
    expect(e.message).toBe("virDomainLookupByName: Domain not found: no domain with matching name 'x'");
    expect(e.libvirtMessage).toBe("Domain not found: no domain with matching name 'x'");
    expect(e.is('VIR_ERR_NO_DOMAIN')).toBe(true);
    expect(e.isConnectionFailure).toBe(false);
  });

  it('marks connection failures', () => {
    expect(new LibvirtError('virConnectOpen', raw(38, ErrorDomain.VIR_FROM_RPC)).isConnectionFailure).toBe(true);
    expect(new LibvirtError('virDomainCreate', raw(ErrorCode.VIR_ERR_NO_CONNECT, 0)).isConnectionFailure).toBe(true);
    expect(new LibvirtError('virConnectOpen', raw(1, 45), { duringOpen: true }).isConnectionFailure).toBe(true);
    expect(new LibvirtError('virDomainCreate', raw(1, 10)).isConnectionFailure).toBe(false);
  });

  it('says so when no libvirt error could be attributed', () => {
    const e = new LibvirtError('virDomainFree', null);
    expect(e.code).toBe(-1);
    expect(e.codeName).toBe('UNATTRIBUTED');
    expect(e.message).toMatch(/failed without a libvirt error/);
  });

  it('names unknown codes by number, and every listed code by its own name', () => {
    expect(errorCodeName(9999)).toBe('VIR_ERR_9999');
    for (const [name, code] of Object.entries(ErrorCode)) expect(errorCodeName(code)).toBe(name);
  });

  it('reports use of freed handles as invalid-handle errors', () => {
    expect(freedHandleError('virDomainCreate', 'domain').codeName).toBe('VIR_ERR_INVALID_DOMAIN');
    expect(freedHandleError('virConnectGetVersion', 'connection').codeName).toBe('VIR_ERR_INVALID_CONN');
  });
});
