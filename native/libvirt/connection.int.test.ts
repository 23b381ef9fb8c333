import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Connection, DomainCreateFlags, ErrorCode, LibvirtError } from './index.js';
import { ledgerSize } from './call.js';
import { removeDomain, testDomainName, tinyDomainXml } from './testing.js';

describe('Connection (real libvirtd)', () => {
  let conn: Connection;
  beforeAll(async () => {
    conn = await Connection.open('qemu:///system');
  });
  afterAll(async () => {
    await conn?.close();
  });

  it('reports hypervisor and library versions', async () => {
    const hv = await conn.getVersion();
    const lib = await conn.getLibVersion();
    console.log(`hypervisor ${hv.string}, libvirt ${lib.string}`);
    expect(hv.major).toBeGreaterThanOrEqual(7);
    expect(hv.string).toBe(`${hv.major}.${hv.minor}.${hv.micro}`);
    expect(lib.major).toBeGreaterThanOrEqual(9);
  });

  it('returns capabilities XML, hostname, node info and free memory', async () => {
    const caps = await conn.getCapabilities();
    expect(caps).toMatch(/^<capabilities>/);
    expect(caps).toContain('<arch>x86_64</arch>');
    const dcaps = await conn.getDomainCapabilities({ virtType: 'qemu', arch: 'x86_64' });
    expect(dcaps).toContain('<domainCapabilities>');
    expect((await conn.getHostname()).length).toBeGreaterThan(0);
    const node = await conn.getNodeInfo();
    expect(node.cpus).toBeGreaterThanOrEqual(1);
    expect(node.memoryBytes).toBeGreaterThan(256 * 1024 * 1024);
    const free = await conn.getFreeMemory();
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThanOrEqual(node.memoryBytes);
  });

  it('returns an explicit null for a missing domain (by name and by UUID)', async () => {
    expect(await conn.lookupDomainByName('forkd-test-native-does-not-exist')).toBeNull();
    expect(await conn.lookupDomainByUUID('00000000-0000-4000-8000-00000000f0cd')).toBeNull();
  });

  it('throws LibvirtError with libvirt code, domain and message for invalid XML', async () => {
    const err = await conn.defineDomain('<domain type="qemu"><name>x</name').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LibvirtError);
    const e = err as LibvirtError;
    expect(e.code).toBe(ErrorCode.VIR_ERR_XML_DETAIL);
    expect(e.codeName).toBe('VIR_ERR_XML_DETAIL');
    expect(e.domain).toBeGreaterThan(0);
    expect(e.message).toMatch(/virDomainDefineXML: /);
    expect(e.isConnectionFailure).toBe(false);
    const semantic = await conn.defineDomain('<domain type="qemu"><name>forkd-test-native-bad</name></domain>').catch((x: unknown) => x);
    expect(semantic).toBeInstanceOf(LibvirtError);
    console.log(`invalid XML -> ${e.codeName}/${e.domainName}: ${e.libvirtMessage}; no <os> -> ${(semantic as LibvirtError).codeName}: ${(semantic as LibvirtError).libvirtMessage}`);
  });

  it('pairs each error with its own call when many fail at once, on one and on several connections', async () => {
    const others = await Promise.all([1, 2, 3].map(() => Connection.open('qemu:///system', { keepAlive: false })));
    try {
      const conns = [conn, ...others];
      const names = Array.from({ length: 16 }, (_, i) => `forkd-test-native-missing-${i}`);
      const results = await Promise.allSettled(
        names.flatMap((n, i) => {
          const c = conns[i % conns.length]!;
          return [c.lookupDomainByName(n), c.defineDomain(`<domain type='qemu'><name>${n}</name><memory>1</memory></domain>`), c.lookupDomainByUUID('zz')];
        }),
      );
      for (let i = 0; i < names.length; i++) {
        expect(results[3 * i]).toEqual({ status: 'fulfilled', value: null });
        const define = results[3 * i + 1] as PromiseRejectedResult;
        expect(define.reason).toBeInstanceOf(LibvirtError);
        expect(define.reason.codeName).toBe('VIR_ERR_XML_ERROR');
        expect(define.reason.operation).toBe('virDomainDefineXML');
        const uuid = results[3 * i + 2] as PromiseRejectedResult;
        expect(uuid.reason.codeName).toBe('VIR_ERR_INVALID_ARG');
      }
      expect(ledgerSize()).toEqual({ entries: 0, inFlight: 0 });
    } finally {
      await Promise.all(others.map((c) => c.close()));
    }
  });

  it('fails fast with a connection failure when the daemon is not there', async () => {
    const t0 = performance.now();
    const err = await Connection.open('qemu+unix:///system?socket=/nonexistent.sock').catch((e: unknown) => e);
    const ms = performance.now() - t0;
    console.log(`open to a missing socket failed in ${ms.toFixed(1)} ms: ${(err as LibvirtError).codeName}/${(err as LibvirtError).domainName}`);
    expect(err).toBeInstanceOf(LibvirtError);
    expect((err as LibvirtError).isConnectionFailure).toBe(true);
    expect((err as LibvirtError).code).toBeGreaterThan(0);
    expect(ms).toBeLessThan(2000);
  });

  it('creates a transient domain from XML (paused), and it is gone once destroyed', async () => {
    const name = testDomainName('transient');
    try {
      const dom = await conn.createDomainXML(tinyDomainXml(name), DomainCreateFlags.START_PAUSED);
      expect(await dom.getState()).toMatchObject({ state: 'paused' });
      await dom.destroy();
      await dom.free();
      expect(await conn.lookupDomainByName(name)).toBeNull();
    } finally {
      await removeDomain(conn, name);
    }
  });

  it('lists domains, and defines one that shows up by name and UUID', async () => {
    const name = testDomainName('list');
    try {
      const dom = await conn.defineDomain(tinyDomainXml(name));
      expect(dom.name).toBe(name);
      expect(dom.uuid).toMatch(/^[0-9a-f-]{36}$/);
      const all = await conn.listAllDomains();
      expect(all.map((d) => d.name)).toContain(name);
      await Promise.all(all.map((d) => d.free()));
      const byUuid = await conn.lookupDomainByUUID(dom.uuid);
      expect(byUuid?.name).toBe(name);
      await byUuid?.free();
      await dom.createWithFlags(DomainCreateFlags.START_PAUSED);
      expect(await dom.getState()).toMatchObject({ state: 'paused' });
      await dom.destroy();
      await dom.free();
      await expect(dom.getState()).rejects.toMatchObject({ codeName: 'VIR_ERR_INVALID_DOMAIN' });
    } finally {
      await removeDomain(conn, name);
    }
  });
});
