// Helpers for this package's integration tests: tiny TCG domains named
// `forkd-test-native-<id>` (CONVENTIONS.md) and cleanup by name.
import { randomBytes } from 'node:crypto';

import type { Connection } from './connection.js';

export const TEST_PREFIX = 'forkd-test-native-';

export function testDomainName(label: string): string {
  return `${TEST_PREFIX}${label}-${randomBytes(3).toString('hex')}`;
}

/**
 * A 64 MiB, 1 vCPU TCG guest with no disk, NIC, display or balloon: it sits in
 * SeaBIOS finding nothing to boot, which is all lifecycle tests need.
 */
export function tinyDomainXml(name: string, opts: { memoryMiB?: number; metadata?: string } = {}): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>${opts.memoryMiB ?? 64}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  ${opts.metadata ? `<metadata>${opts.metadata}</metadata>` : ''}
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

/** Destroy (if running) and undefine (if defined) the domain `name`; ignores "not there". */
export async function removeDomain(conn: Connection, name: string): Promise<void> {
  const dom = await conn.lookupDomainByName(name);
  if (dom === null) return;
  try {
    const { state } = await dom.getState();
    if (state !== 'shutoff') await dom.destroy().catch(() => {});
    await dom.undefine().catch(() => {});
  } finally {
    await dom.free();
  }
}
