// A container's root filesystem: an overlay of its image's layers (read-only,
// shared, content-addressed) with its own upper and work directories. Mounted
// with busybox mount from inside the layers directory, so lowerdir can use
// short relative paths (mount options are limited to one page).

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { opaqueToWhiteouts } from '../../images/containers/layer-extract.js';
import { AgentError } from '../contracts/agent-protocol/index.js';
import { hexOf, type ImageStore } from './images.js';
import { runOk } from './run.js';
import { sysCalls } from './sys-calls.js';

/** overlay's lowerdir: the top layer first. Paths are relative to the layers directory. */
export function lowerdirOption(diffIds: readonly string[]): string {
  return [...diffIds]
    .reverse()
    .map((d) => `${hexOf(d)}/fs`)
    .join(':');
}

export function overlayOptions(diffIds: readonly string[], upper: string, work: string): string {
  const opts = `lowerdir=${lowerdirOption(diffIds)},upperdir=${upper},workdir=${work}`;
  if (Buffer.byteLength(opts) > 4000) throw new AgentError('ERR_CONTAINER_START', `image has too many layers for one overlay mount (${diffIds.length})`);
  if (/[,:\\]/.test(upper + work)) throw new AgentError('ERR_INTERNAL', 'state paths must not contain , : or \\');
  return opts;
}

/** Whether `path` is a mount point, from /proc/self/mountinfo (field 5). */
export function isMountPoint(mountinfo: string, path: string): boolean {
  const esc = path.replace(/ /g, '\\040');
  return mountinfo.split('\n').some((l) => l.split(' ')[4] === esc);
}

export async function mountRootfs(store: ImageStore, diffIds: readonly string[], dir: string, system = true): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  if (isMountPoint(info, rootfs)) return rootfs;
  // Opaque directories (no xattr tools in the guest) become whiteouts over the layers below them.
  for (let i = 0; i < diffIds.length; i++) {
    const rec = await store.layer(diffIds[i]!);
    if (!rec) throw new AgentError('ERR_NOT_FOUND', `layer ${diffIds[i]} is not in the guest`);
    const below = diffIds.slice(0, i).map((d) => store.layerFs(d)).reverse();
    for (const rel of rec.opaqueDirs) if (below.length > 0) await opaqueToWhiteouts(store.layerFs(diffIds[i]!), rel, below);
  }
  const options = overlayOptions(diffIds, join(dir, 'upper'), join(dir, 'work'));
  try {
    // In-process where koffi is (no busybox `mount` process on a container create's path), else busybox.
    const sys = system ? sysCalls() : null;
    if (sys) sys.mountOverlay(resolve(rootfs), options, store.layersDir);
    else await runOk('mount', ['-t', 'overlay', 'overlay', '-o', options, rootfs], { cwd: store.layersDir });
  } catch (e) {
    throw new AgentError('ERR_IO', `mounting the container rootfs: ${(e as Error).message}`);
  }
  return rootfs;
}

export async function unmountRootfs(dir: string): Promise<void> {
  const rootfs = join(dir, 'rootfs');
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  if (!isMountPoint(info, rootfs)) return;
  await runOk('umount', [rootfs]).catch(() => runOk('umount', ['-l', rootfs]));
}
