// The accelerator probe: the guest kernel with a busybox-only initramfs whose
// /init prints FORKD-PROBE-OK and powers off. hostd boots it to learn whether
// KVM works (marker seen quickly) or forkd must fall back to TCG.
import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildOnce, MANIFEST } from './cache.js';
import { compress, newcArchive } from './cpio.js';
import { contentId } from './hash.js';
import { findBusybox } from './host.js';
import { findHostKernel, type KernelLocations } from './kernel.js';
import { hashMemoFile, INITRAMFS_FILE, KERNEL_FILE, type ProgressFn } from './build.js';
import { PROBE_CMDLINE, PROBE_INIT, PROBE_MARKER } from './scripts.js';

export const PROBE_BUILDER_VERSION = 'forkd-probe-1';

export interface ProbeImage {
  id: string;
  dir: string;
  kernel: string;
  initramfs: string;
  cmdline: string;
  kernelVersion: string;
  /** The line the probe prints on the serial console once it booted. */
  marker: string;
}

export function probeImageRoot(dataDir: string): string {
  return join(resolve(dataDir), 'images', 'probe');
}

export async function buildProbeImage(dataDir: string, opts: { onProgress?: ProgressFn; kernel?: KernelLocations } = {}): Promise<ProbeImage> {
  const progress: ProgressFn = opts.onProgress ?? (() => {});
  const kernel = await findHostKernel(opts.kernel);
  const busybox = await findBusybox();
  const { id, inputs } = await contentId([
    { role: 'builder', text: PROBE_BUILDER_VERSION },
    { role: 'script:init', text: PROBE_INIT },
    { role: 'cmdline', text: PROBE_CMDLINE },
    { role: 'layout', text: JSON.stringify({ compression: kernel.compression, kernelVersion: kernel.version }) },
    { role: 'kernel', file: kernel.image },
    { role: 'busybox', file: busybox.path },
  ], { memoFile: hashMemoFile(dataDir) });
  const root = probeImageRoot(dataDir);
  const { dir, cached } = await buildOnce(root, id, async (tmp) => {
    progress('probe', `kernel ${kernel.version}, busybox initramfs (${kernel.compression})`);
    await copyFile(kernel.image, join(tmp, KERNEL_FILE));
    await chmod(join(tmp, KERNEL_FILE), 0o644);
    const cpio = newcArchive([
      { kind: 'dir', path: 'bin' },
      { kind: 'dir', path: 'dev' },
      { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
      { kind: 'file', path: 'bin/busybox', data: await readFile(busybox.path), mode: 0o755 },
      { kind: 'file', path: 'init', data: PROBE_INIT, mode: 0o755 },
    ]);
    await writeFile(join(tmp, INITRAMFS_FILE), await compress(cpio, kernel.compression), { mode: 0o644 });
    const manifest = { id, files: { kernel: KERNEL_FILE, initramfs: INITRAMFS_FILE }, kernelVersion: kernel.version, cmdline: PROBE_CMDLINE, builder: PROBE_BUILDER_VERSION, builtAt: new Date().toISOString(), inputs };
    await writeFile(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  });
  progress(cached ? 'probe-cached' : 'probe-done', id);
  return {
    id,
    dir,
    kernel: join(dir, KERNEL_FILE),
    initramfs: join(dir, INITRAMFS_FILE),
    cmdline: PROBE_CMDLINE,
    kernelVersion: kernel.version,
    marker: PROBE_MARKER,
  };
}
