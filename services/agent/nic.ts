// The guest's NIC as identity.set sees it: which interface is the virtio NIC,
// and the busybox `ip` calls that give it the clone's MAC. A clone's
// virtio-net device comes back from the template's device state with the
// template's MAC; setting it from the guest makes the driver tell QEMU
// (VIRTIO_NET_CTRL_MAC_ADDR_SET), whose receive filter then follows.

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The interface to give a MAC: `preferred` when named (null if the guest has no
 * such interface), else the first non-loopback interface in `sysNet`
 * (/sys/class/net), those backed by a device (the virtio NIC) before virtual
 * ones. null: the guest has no NIC.
 */
export async function findNic(sysNet: string, preferred?: string): Promise<string | null> {
  const names = (await readdir(sysNet).catch(() => [] as string[])).filter((n) => n !== 'lo').sort();
  if (preferred !== undefined) return names.includes(preferred) ? preferred : null;
  return names.find((n) => existsSync(join(sysNet, n, 'device'))) ?? names[0] ?? null;
}

/** The interface's current MAC (lower case), or null when unreadable. */
export async function currentMac(sysNet: string, nic: string): Promise<string | null> {
  const text = await readFile(join(sysNet, nic, 'address'), 'utf8').catch(() => '');
  return text.trim().toLowerCase() || null;
}

/** busybox `ip` calls that leave `nic` up with `mac`: down, address, up; only up when it has the MAC already. */
export function macCommands(nic: string, mac: string, current: string | null): string[][] {
  const up = ['ip', 'link', 'set', 'dev', nic, 'up'];
  if (current === mac) return [up];
  return [['ip', 'link', 'set', 'dev', nic, 'down'], ['ip', 'link', 'set', 'dev', nic, 'address', mac], up];
}
