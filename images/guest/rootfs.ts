// The guest's root filesystem: staged as a directory, turned into ext4 without
// mounting anything (`mke2fs -d`), then into a sparse qcow2 that hostd uses as
// the backing file of every VM's disk.
import { chmod, copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { exec } from './exec.js';
import type { ModuleEntry } from './modules.js';
import { AGENT_PATH, AGENT_SH, INITTAB, LAUNCHER_PATH, ROOTFS_INIT } from './scripts.js';

export interface RootfsInputs {
  readonly kernelVersion: string;
  readonly modulesDir: string;
  /** Every module the guest has (initramfs + rootfs stages), for a modules.dep that busybox modprobe can use. */
  readonly allModules: readonly ModuleEntry[];
  /** The modules /sbin/init loads, in order. */
  readonly rootfsModules: readonly ModuleEntry[];
  readonly busybox: string;
  /** busybox --list-full: applet paths relative to / */
  readonly busyboxApplets: readonly string[];
  readonly crun: string;
  readonly node: string;
  /** koffi.node, installed as /opt/forkd/koffi.node (the agent's way to libc for terminals). */
  readonly koffi: string;
  /** Shared libraries of crun and node, as absolute paths the loader opens. */
  readonly libraries: readonly string[];
  readonly agentBundle: string;
  /** launch.c, compiled static into /opt/forkd/launch (services/agent/held.ts). */
  readonly launcherSource: string;
  /** Written to /etc/forkd/image.json */
  readonly imageInfo: Record<string, unknown>;
}

/** Applets that must not become symlinks: /sbin/init is forkd's own script. */
const APPLETS_SKIPPED = new Set(['sbin/init', 'linuxrc']);

export async function stageRootfs(root: string, i: RootfsInputs): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'lib', 'lib64', 'etc/forkd', 'opt/forkd', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'mnt', 'var/log', 'var/lib/forkd', 'var/tmp']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await chmod(join(root, 'tmp'), 0o1777);
  await chmod(join(root, 'var/tmp'), 0o1777);
  await chmod(join(root, 'root'), 0o700);

  // busybox and its applets
  await put(root, '/bin/busybox', i.busybox, 0o755);
  for (const applet of i.busyboxApplets) {
    if (APPLETS_SKIPPED.has(applet) || applet === 'bin/busybox') continue;
    await mkdir(join(root, dirname(applet)), { recursive: true });
    await symlink('/bin/busybox', join(root, applet));
  }

  // crun, node and the libraries they link
  await put(root, '/usr/bin/crun', i.crun, 0o755);
  await put(root, '/usr/bin/node', i.node, 0o755);
  for (const lib of i.libraries) await put(root, lib, lib, 0o755);

  // the agent, and the native module it opens terminals with
  await put(root, AGENT_PATH, i.agentBundle, 0o644);
  await put(root, '/opt/forkd/koffi.node', i.koffi, 0o644);
  // Static: the launcher runs inside containers, where neither the guest's loader nor its libc is.
  await exec('cc', ['-static', '-Os', '-s', '-Wall', '-o', join(root, LAUNCHER_PATH), i.launcherSource]);
  await chmod(join(root, LAUNCHER_PATH), 0o755);

  // init
  await text(root, '/sbin/init', ROOTFS_INIT, 0o755);
  await text(root, '/etc/inittab', INITTAB);
  await text(root, '/etc/forkd/agent.sh', AGENT_SH, 0o755);
  await text(root, '/etc/forkd/modules.rootfs', i.rootfsModules.map((m) => `${m.name} ${m.path}\n`).join(''));
  await text(root, '/etc/forkd/image.json', `${JSON.stringify(i.imageInfo, null, 2)}\n`);

  // kernel modules at their usual paths, with a modules.dep for what is there
  const modRoot = `/lib/modules/${i.kernelVersion}`;
  for (const m of i.allModules) await put(root, `${modRoot}/${m.path}`, join(i.modulesDir, m.path), 0o644);
  const dep = i.allModules.map((m) => `${m.path}:${m.deps.map((d) => ` ${pathOf(i.allModules, d)}`).join('')}\n`).join('');
  await text(root, `${modRoot}/modules.dep`, dep);

  // names and accounts
  await text(root, '/etc/hostname', 'forkd\n');
  await text(root, '/etc/hosts', '127.0.0.1\tlocalhost\n127.0.1.1\tforkd\n');
  await text(root, '/etc/resolv.conf', '# forkd: the agent writes the nameservers here\n');
  await text(root, '/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  await text(root, '/etc/group', 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  await text(root, '/etc/shadow', 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', 0o600);
  await text(root, '/etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n');
  await symlink('/proc/self/mounts', join(root, 'etc/mtab'));
}

function pathOf(all: readonly ModuleEntry[], name: string): string {
  const m = all.find((x) => x.name === name);
  if (m === undefined) throw new Error(`module ${name} is a dependency but not in the image`);
  return m.path;
}

async function put(root: string, guestPath: string, hostFile: string, mode: number): Promise<void> {
  const dest = join(root, guestPath);
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(hostFile, dest); // follows symlinks: the guest gets the real bytes under the linked name
  await chmod(dest, mode);
}

async function text(root: string, guestPath: string, content: string, mode = 0o644): Promise<void> {
  const dest = join(root, guestPath);
  await mkdir(dirname(dest), { recursive: true });
  await writeFile(dest, content, { mode });
  await chmod(dest, mode);
}

/**
 * ext4 image of `stagingDir` (made without mounting), converted to a sparse
 * qcow2 of `sizeMiB` virtual size. The raw image is removed afterwards.
 */
export async function makeRootDisk(stagingDir: string, rawPath: string, qcow2Path: string, sizeMiB: number): Promise<void> {
  await rm(rawPath, { force: true });
  await exec('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'forkd-root', '-m', '0', '-E', 'root_owner=0:0', '-d', stagingDir, rawPath, `${sizeMiB}M`]);
  await exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', rawPath, qcow2Path]);
  await rm(rawPath, { force: true });
}
