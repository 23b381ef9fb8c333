import { describe, expect, it } from 'vitest';
import { loadOrder, moduleNameOf, parseModulesDep } from './modules.js';

// An excerpt of Debian 6.1's modules.dep (the facts DESIGN.md records).
const DEP = `kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/lib/crc16.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/crypto/crc32c_generic.ko.xz:
`;

const names = (xs: { name: string }[]) => xs.map((x) => x.name);
const before = (order: string[], a: string, b: string) => order.indexOf(a) >= 0 && order.indexOf(a) < order.indexOf(b);

describe('kernel module order', () => {
  const dep = parseModulesDep(DEP);

  it('names modules as the kernel does', () => {
    expect(moduleNameOf('kernel/arch/x86/crypto/crc32c-intel.ko')).toBe('crc32c_intel');
    expect(moduleNameOf('kernel/crypto/crc32c_generic.ko.xz')).toBe('crc32c_generic');
    expect(dep.get('crc32c_generic')?.path).toBe('kernel/crypto/crc32c_generic.ko.xz');
  });

  it('loads every dependency before its dependents', () => {
    const order = names(loadOrder(dep, ['virtio_pci', 'virtio_blk', 'ext4']));
    expect(before(order, 'virtio_ring', 'virtio')).toBe(true);
    for (const d of ['virtio', 'virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev']) expect(before(order, d, 'virtio_pci')).toBe(true);
    for (const d of ['crc16', 'mbcache', 'jbd2']) expect(before(order, d, 'ext4')).toBe(true);
    expect(new Set(order).size).toBe(order.length);
    expect(order).toHaveLength(10);
  });

  it('leaves out what an earlier stage loaded', () => {
    const first = names(loadOrder(dep, ['virtio_pci']));
    const second = names(loadOrder(dep, ['virtio_net'], new Set(first)));
    expect(second).toEqual(['failover', 'net_failover', 'virtio_net']);
  });

  it('says which module is missing and who needs it', () => {
    const broken = parseModulesDep('kernel/a.ko: kernel/b.ko\n');
    expect(() => loadOrder(broken, ['a'])).toThrow(/b \(needed by a\)/);
  });
});
