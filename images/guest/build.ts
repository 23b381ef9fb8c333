// Builds the guest image every forkd VM boots: the host's Debian kernel, a small
// initramfs (busybox + the virtio/ext4 modules) and an ext4 root disk (qcow2)
// with busybox, crun, node and the agent. Content-addressed: the output lives in
// <dataDir>/images/guest/<id>/ where id hashes every input, and is built once.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { chmod, copyFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ForkdError } from '../../services/contracts/errors.js';
import { buildOnce, MANIFEST } from './cache.js';
import { compress, newcArchive, type CpioEntry } from './cpio.js';
import { findBusybox, findOnPath, type HostBusybox } from './host.js';
import { contentId, type HashInput } from './hash.js';
import { findHostKernel, type HostKernel, type KernelLocations } from './kernel.js';
import { sharedLibraries } from './ldd.js';
import { planModules, readModule, type ModulePlan } from './modules.js';
import { makeRootDisk, stageRootfs } from './rootfs.js';
import { AGENT_SH, GUEST_CMDLINE, INITRAMFS_INIT, INITTAB, ROOTFS_INIT } from './scripts.js';

/**
 * Bump when the build changes in a way the hashed inputs do not show (layout,
 * mke2fs options, file modes). The scripts themselves are hashed already.
 */
export const GUEST_BUILDER_VERSION = 'forkd-guest-1';

export const KERNEL_FILE = 'vmlinuz';
export const INITRAMFS_FILE = 'initramfs.img';
export const ROOT_DISK_FILE = 'root.qcow2';

export interface GuestImage {
  /** Content hash of every input; also the directory name. */
  id: string;
  dir: string;
  kernel: string;
  initramfs: string;
  /** qcow2, ext4 inside; use it as a backing file or with snapshot=on, never write to it. */
  rootDisk: string;
  kernelVersion: string;
  cmdline: string;
}

export type ProgressFn = (step: string, detail?: string) => void;

export interface BuildGuestImageOptions {
  dataDir: string;
  /** One ESM file (esbuild output of services/agent/main.ts), copied to /opt/forkd/agent.mjs. */
  agentBundle: string;
  onProgress?: ProgressFn;
  /** Virtual size of the root disk; containers' writable layers live there. Default 1024. */
  rootSizeMiB?: number;
  /** Where to look for the kernel (tests); default /boot and /lib/modules. */
  kernel?: KernelLocations;
}

export const DEFAULT_ROOT_SIZE_MIB = 1024;

/** launcher/launch.c beside this file in the source tree; from dist/, the same file in the checkout. */
const LAUNCHER_SOURCE = [new URL('./launcher/launch.c', import.meta.url), new URL('../../../images/guest/launcher/launch.c', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) ?? fileURLToPath(new URL('./launcher/launch.c', import.meta.url));

interface GuestInputs {
  kernel: HostKernel;
  modules: ModulePlan;
  busybox: HostBusybox;
  crun: string;
  node: string;
  /** koffi's native module: the agent calls libc through it for terminals (services/agent/terminal.ts). */
  koffi: string;
  libraries: string[];
  agentBundle: string;
  /** The container launcher's C source (launcher/launch.c), compiled static while staging. */
  launcherSource: string;
  rootSizeMiB: number;
}

export function guestImageRoot(dataDir: string): string {
  return join(resolve(dataDir), 'images', 'guest');
}

/** Remembered input digests (see hash.ts), shared by the guest and probe builds. */
export function hashMemoFile(dataDir: string): string {
  return join(resolve(dataDir), 'images', '.input-digests.json');
}

export async function buildGuestImage(opts: BuildGuestImageOptions): Promise<GuestImage> {
  const progress: ProgressFn = opts.onProgress ?? (() => {});
  const started = Date.now();
  progress('inputs', 'finding the kernel, modules, busybox, crun, node');
  const inputs = await resolveInputs(opts);
  const toHash = hashInputs(inputs);
  progress('hash', `hashing ${toHash.length} inputs`);
  const { id, inputs: hashed } = await contentId(toHash, { memoFile: hashMemoFile(opts.dataDir) });
  const root = guestImageRoot(opts.dataDir);
  const image = (dir: string): GuestImage => ({
    id,
    dir,
    kernel: join(dir, KERNEL_FILE),
    initramfs: join(dir, INITRAMFS_FILE),
    rootDisk: join(dir, ROOT_DISK_FILE),
    kernelVersion: inputs.kernel.version,
    cmdline: GUEST_CMDLINE,
  });

  const { dir, cached } = await buildOnce(root, id, async (tmp) => {
    progress('kernel', `${inputs.kernel.image} (${inputs.kernel.version})`);
    await copyFile(inputs.kernel.image, join(tmp, KERNEL_FILE));
    await chmod(join(tmp, KERNEL_FILE), 0o644);

    progress('initramfs', `${inputs.modules.initramfs.map((m) => m.name).join(' ')} (${inputs.kernel.compression})`);
    await writeFile(join(tmp, INITRAMFS_FILE), await guestInitramfs(inputs), { mode: 0o644 });

    progress('rootfs', 'staging busybox, crun, node, the agent and its launcher, init and modules');
    const staging = join(tmp, 'rootfs');
    await stageRootfs(staging, {
      kernelVersion: inputs.kernel.version,
      modulesDir: inputs.kernel.modulesDir,
      allModules: [...inputs.modules.initramfs, ...inputs.modules.rootfs],
      rootfsModules: inputs.modules.rootfs,
      busybox: inputs.busybox.path,
      busyboxApplets: inputs.busybox.applets,
      crun: inputs.crun,
      node: inputs.node,
      koffi: inputs.koffi,
      libraries: inputs.libraries,
      agentBundle: inputs.agentBundle,
      launcherSource: inputs.launcherSource,
      imageInfo: { id, kernelVersion: inputs.kernel.version, builder: GUEST_BUILDER_VERSION, nodeVersion: process.version },
    });

    progress('root-disk', `mke2fs -t ext4 -d, qemu-img convert -O qcow2 (${inputs.rootSizeMiB} MiB virtual)`);
    await makeRootDisk(staging, join(tmp, 'root.raw'), join(tmp, ROOT_DISK_FILE), inputs.rootSizeMiB);
    await rm(staging, { recursive: true, force: true });
    await chmod(join(tmp, ROOT_DISK_FILE), 0o644);

    const sizes = await fileSizes(tmp, [KERNEL_FILE, INITRAMFS_FILE, ROOT_DISK_FILE]);
    const manifest = {
      id,
      // File names only: the data directory may be reached through other paths (symlinks, mounts).
      files: { kernel: KERNEL_FILE, initramfs: INITRAMFS_FILE, rootDisk: ROOT_DISK_FILE },
      kernelVersion: inputs.kernel.version,
      cmdline: GUEST_CMDLINE,
      builder: GUEST_BUILDER_VERSION,
      builtAt: new Date().toISOString(),
      buildMs: Date.now() - started,
      rootSizeMiB: inputs.rootSizeMiB,
      modules: { initramfs: inputs.modules.initramfs.map((m) => m.name), rootfs: inputs.modules.rootfs.map((m) => m.name), missing: inputs.modules.missing },
      sizes,
      inputs: hashed,
    };
    await writeFile(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  });
  progress(cached ? 'cached' : 'done', `${id} in ${Date.now() - started} ms`);
  return image(dir);
}

/** The prebuilt koffi.node for linux x64 from node_modules (koffi's own package depends on it). */
function koffiNativeModule(): string {
  try {
    return createRequire(import.meta.url).resolve('@koromix/koffi-linux-x64/linux_x64/koffi.node');
  } catch (cause) {
    throw new ForkdError('ERR_CONFIG', 'koffi\'s native module (@koromix/koffi-linux-x64/linux_x64/koffi.node) is not installed; run npm install', { cause });
  }
}

async function resolveInputs(opts: BuildGuestImageOptions): Promise<GuestInputs> {
  const agentBundle = resolve(opts.agentBundle);
  try {
    if (!(await stat(agentBundle)).isFile()) throw new Error('not a file');
  } catch (cause) {
    throw new ForkdError('ERR_CONFIG', `agent bundle ${agentBundle} does not exist; build it with \`node images/guest/bundle-agent.mjs\` (part of \`npm run build\`)`, { cause });
  }
  const rootSizeMiB = opts.rootSizeMiB ?? DEFAULT_ROOT_SIZE_MIB;
  if (!Number.isInteger(rootSizeMiB) || rootSizeMiB < 64) throw new ForkdError('ERR_CONFIG', `rootSizeMiB must be an integer >= 64, got ${rootSizeMiB}`);
  const kernel = await findHostKernel(opts.kernel);
  const [modules, busybox, crun] = await Promise.all([planModules(kernel.modulesDir), findBusybox(), findOnPath('crun', 'crun')]);
  const node = process.execPath;
  const koffi = koffiNativeModule();
  const libraries = [...new Set([...(await sharedLibraries(crun)), ...(await sharedLibraries(node)), ...(await sharedLibraries(koffi))])].sort();
  return { kernel, modules, busybox, crun, node, koffi, libraries, agentBundle, launcherSource: LAUNCHER_SOURCE, rootSizeMiB };
}

/** Everything that decides the image's bytes. Roles name what each input is. */
function hashInputs(i: GuestInputs): HashInput[] {
  const mods = [...i.modules.initramfs, ...i.modules.rootfs];
  return [
    { role: 'builder', text: GUEST_BUILDER_VERSION },
    { role: 'script:initramfs-init', text: INITRAMFS_INIT },
    { role: 'script:rootfs-init', text: ROOTFS_INIT },
    { role: 'script:inittab', text: INITTAB },
    { role: 'script:agent-sh', text: AGENT_SH },
    { role: 'cmdline', text: GUEST_CMDLINE },
    { role: 'layout', text: JSON.stringify({ rootSizeMiB: i.rootSizeMiB, compression: i.kernel.compression, kernelVersion: i.kernel.version }) },
    { role: 'modules:order', text: JSON.stringify({ initramfs: i.modules.initramfs, rootfs: i.modules.rootfs }) },
    { role: 'busybox:applets', text: i.busybox.applets.join('\n') },
    { role: 'kernel', file: i.kernel.image },
    ...mods.map((m) => ({ role: `module:${m.path}`, file: join(i.kernel.modulesDir, m.path) })),
    { role: 'busybox', file: i.busybox.path },
    { role: 'crun', file: i.crun },
    { role: 'node', file: i.node },
    { role: 'koffi', file: i.koffi },
    ...i.libraries.map((l) => ({ role: `lib:${l}`, file: l })),
    { role: 'agent', file: i.agentBundle },
    { role: 'launcher-source', file: i.launcherSource },
  ];
}

async function guestInitramfs(i: GuestInputs): Promise<Buffer> {
  const entries: CpioEntry[] = [
    { kind: 'dir', path: 'bin' },
    { kind: 'dir', path: 'dev' },
    { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'dir', path: 'etc' },
    { kind: 'dir', path: 'lib' },
    { kind: 'dir', path: 'lib/modules' },
    { kind: 'dir', path: 'newroot' },
    { kind: 'dir', path: 'proc' },
    { kind: 'dir', path: 'sys' },
    { kind: 'file', path: 'bin/busybox', data: await readFile(i.busybox.path), mode: 0o755 },
    { kind: 'file', path: 'init', data: INITRAMFS_INIT, mode: 0o755 },
    { kind: 'file', path: 'etc/modules.initramfs', data: i.modules.initramfs.map((m) => `${m.name}\n`).join('') },
  ];
  for (const m of i.modules.initramfs) {
    entries.push({ kind: 'file', path: `lib/modules/${m.name}.ko`, data: await readModule(i.kernel.modulesDir, m) });
  }
  return compress(newcArchive(entries), i.kernel.compression);
}

async function fileSizes(dir: string, names: string[]): Promise<Record<string, { bytes: number; allocatedBytes: number }>> {
  const out: Record<string, { bytes: number; allocatedBytes: number }> = {};
  for (const n of names) {
    const s = await stat(join(dir, n));
    out[n] = { bytes: s.size, allocatedBytes: s.blocks * 512 };
  }
  return out;
}
