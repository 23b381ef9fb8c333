// Disk: a clone writes to its own qcow2 overlay whose backing file is the
// template's frozen disk. qemu-img runs as a host process (hostd, not QEMU:
// the seccomp sandbox only binds QEMU).

import { execFile } from 'node:child_process';
import { chmod, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ForkdError } from '../../contracts/errors.js';

const run = promisify(execFile);

async function qemuImg(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('qemu-img', args, { timeout: 30_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ForkdError('ERR_INTERNAL', `qemu-img ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** Creates `overlay` (qcow2) backed by `backing` (qcow2, referenced by absolute path). */
export async function createOverlay(backing: string, overlay: string): Promise<void> {
  if (!backing.startsWith('/')) throw new ForkdError('ERR_INTERNAL', `backing file must be an absolute path: ${backing}`);
  await qemuImg(['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', backing, overlay]);
}

export async function removeOverlay(overlay: string): Promise<void> {
  await rm(overlay, { force: true });
}

/** Makes a template's disk the read-only backing file of its clones. */
export async function freezeDisk(path: string): Promise<void> {
  await chmod(path, 0o444);
}

export async function backingFileOf(overlay: string): Promise<string | null> {
  const info = JSON.parse(await qemuImg(['info', '--output=json', '-U', overlay])) as { 'backing-filename'?: string };
  return info['backing-filename'] ?? null;
}
