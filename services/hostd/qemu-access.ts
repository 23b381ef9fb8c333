// libvirt runs QEMU as an unprivileged user (Debian: libvirt-qemu) that opens
// kernels, disks and sockets under forkd's data directory by path, so every
// folder on the way must be passable (o+x) for it. Nothing is made readable.
import { chmod, stat } from 'node:fs/promises';
import type { Logger } from '../contracts/logger.js';

export async function makePassableForQemu(dirs: readonly string[], log?: Logger): Promise<void> {
  for (const dir of dirs) {
    const s = await stat(dir);
    if ((s.mode & 0o001) === 0) {
      await chmod(dir, (s.mode & 0o7777) | 0o711);
      log?.info('made a data folder passable for QEMU', { dir });
    }
  }
}
