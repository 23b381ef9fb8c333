// Host programs the guest image copies: busybox (static), crun, node.
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { ForkdError } from '../../services/contracts/errors.js';
import { exec } from './exec.js';
import { sharedLibraries } from './ldd.js';

const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export async function findOnPath(name: string, pkg: string): Promise<string> {
  const dirs = `${process.env.PATH ?? ''}${delimiter}${FALLBACK_PATH}`.split(delimiter).filter((d) => d !== '');
  for (const d of dirs) {
    const p = join(d, name);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new ForkdError('ERR_CONFIG', `\`${name}\` is not installed; the guest image needs it (Debian: apt-get install ${pkg})`);
}

export interface HostBusybox {
  readonly path: string;
  /** Applet paths relative to /, from `busybox --list-full`. */
  readonly applets: readonly string[];
}

/** The static busybox (busybox-static): it runs in the initramfs before any library exists. */
export async function findBusybox(): Promise<HostBusybox> {
  const path = await findOnPath('busybox', 'busybox-static');
  if ((await sharedLibraries(path)).length > 0) {
    throw new ForkdError('ERR_CONFIG', `${path} is linked dynamically; the guest needs a static busybox (Debian: apt-get install busybox-static)`);
  }
  const { stdout } = await exec(path, ['--list-full']);
  const applets = stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '').sort();
  return { path, applets };
}
