// libvirt runs QEMU as an unprivileged user (Debian: libvirt-qemu) and labels
// the disks it knows about, but not the memory file named in
// <qemu:commandline>: forkd gives that file to QEMU's user itself.

import { readFileSync } from 'node:fs';
import { chown } from 'node:fs/promises';

export interface Owner {
  uid: number;
  gid: number;
}

function confValue(conf: string, key: string): string | undefined {
  const m = new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, 'm').exec(conf);
  return m?.[1];
}

function lookup(db: string, name: string): { id: number; gid: number } | undefined {
  if (/^\+?\d+$/.test(name)) return { id: Number(name.replace('+', '')), gid: -1 };
  for (const line of db.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined) return { id: Number(f[2]), gid: Number(f[3] ?? -1) };
  }
  return undefined;
}

let cached: Owner | null | undefined;

/** QEMU's uid/gid under qemu:///system (qemu.conf `user`/`group`, Debian's default libvirt-qemu), or null when QEMU runs as root. */
export function qemuProcessOwner(): Owner | null {
  if (cached !== undefined) return cached;
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  const conf = read('/etc/libvirt/qemu.conf');
  const user = lookup(read('/etc/passwd'), confValue(conf, 'user') ?? 'libvirt-qemu');
  const groupName = confValue(conf, 'group');
  const group = groupName === undefined ? undefined : lookup(read('/etc/group'), groupName);
  cached = user === undefined || user.id === 0 ? null : { uid: user.id, gid: group?.id ?? user.gid };
  return cached;
}

export async function giveToQemu(path: string): Promise<void> {
  const owner = qemuProcessOwner();
  if (owner) await chown(path, owner.uid, owner.gid);
}
