import { describe, expect, it, vi } from 'vitest';

import * as first from './index.js';

describe('two copies of the package in one process', () => {
  it('share koffi types, the error handler, the ledger and the event loop', async () => {
    // A second evaluation of the same files (as two bundles or a runner without isolation would do).
    vi.resetModules();
    const second = (await import('./index.js')) as typeof first;
    expect(second.Connection).not.toBe(first.Connection);
    expect(second.eventLoop).toBe(first.eventLoop);

    const a = await first.Connection.open('qemu:///system', { keepAlive: false });
    const b = await second.Connection.open('qemu:///system', { keepAlive: false });
    try {
      const [ea, eb] = await Promise.all([
        a.defineDomain('<domain').catch((e: unknown) => e),
        b.defineDomain(`<domain type='qemu'><name>forkd-test-native-copy</name><memory>1</memory></domain>`).catch((e: unknown) => e),
      ]);
      expect(ea).toBeInstanceOf(first.LibvirtError);
      expect((ea as first.LibvirtError).codeName).toBe('VIR_ERR_XML_DETAIL');
      expect(eb).toBeInstanceOf(second.LibvirtError);
      expect((eb as first.LibvirtError).codeName).toBe('VIR_ERR_XML_ERROR');
      expect(await b.lookupDomainByName('forkd-test-native-none')).toBeNull();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
