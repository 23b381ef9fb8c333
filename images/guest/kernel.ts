// Finding the guest kernel: the newest Debian `linux-image-amd64` kernel in /boot,
// its modules directory and the initramfs compressions it can unpack.
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ForkdError } from '../../services/contracts/errors.js';

export type InitramfsCompression = 'gzip' | 'zstd';

export interface HostKernel {
  /** e.g. `6.1.0-56-amd64` */
  readonly version: string;
  /** /boot/vmlinuz-<version> */
  readonly image: string;
  /** /lib/modules/<version> */
  readonly modulesDir: string;
  /** Compression for the initramfs, chosen from the kernel's CONFIG_RD_* options. */
  readonly compression: InitramfsCompression;
}

export interface KernelLocations {
  bootDir?: string;
  modulesRoot?: string;
}

const MISSING = 'no guest kernel found: install the Debian package `linux-image-amd64` (apt-get install linux-image-amd64); forkd boots that kernel in every guest';

/** Compares kernel versions the way humans do: 6.1.0-10 < 6.1.0-56 < 6.10.0-1. */
export function compareKernelVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export async function findHostKernel(loc: KernelLocations = {}): Promise<HostKernel> {
  const bootDir = loc.bootDir ?? '/boot';
  const modulesRoot = loc.modulesRoot ?? '/lib/modules';
  let names: string[];
  try {
    names = await readdir(bootDir);
  } catch (cause) {
    throw new ForkdError('ERR_CONFIG', MISSING, { cause });
  }
  const versions = names
    .filter((n) => n.startsWith('vmlinuz-'))
    .map((n) => n.slice('vmlinuz-'.length))
    .sort(compareKernelVersions);
  // Newest first, but only a kernel whose modules are installed is usable: the
  // virtio and ext4 drivers are modules in Debian's kernel.
  for (const version of versions.reverse()) {
    const modulesDir = join(modulesRoot, version);
    if (!existsSync(join(modulesDir, 'modules.dep'))) continue;
    return {
      version,
      image: join(bootDir, `vmlinuz-${version}`),
      modulesDir,
      compression: await initramfsCompression(join(bootDir, `config-${version}`)),
    };
  }
  throw new ForkdError('ERR_CONFIG', versions.length === 0 ? MISSING : `${MISSING} (found ${bootDir}/vmlinuz-${versions.join(', ')} but no matching ${modulesRoot}/<version>/modules.dep)`);
}

/** gzip when the kernel has CONFIG_RD_GZIP (unpacked in-process, no tool needed), else zstd. */
export async function initramfsCompression(configPath: string): Promise<InitramfsCompression> {
  let config: string;
  try {
    config = await readFile(configPath, 'utf8');
  } catch {
    return 'gzip'; // every distribution kernel has it; without a config we cannot ask
  }
  if (/^CONFIG_RD_GZIP=y$/m.test(config)) return 'gzip';
  if (/^CONFIG_RD_ZSTD=y$/m.test(config)) return 'zstd';
  throw new ForkdError('ERR_CONFIG', `${configPath}: the kernel unpacks neither gzip nor zstd initramfs images (CONFIG_RD_GZIP / CONFIG_RD_ZSTD)`);
}

