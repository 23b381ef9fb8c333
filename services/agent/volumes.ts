// Volumes inside the guest: hostd hot-plugged each volume's disk (virtio-blk,
// serial = the volume's id, cut to 20 bytes); here it is found by that serial
// in /sys/block/*/serial (the guest has no udev, so no /dev/disk/by-id),
// mounted as ext4 under <root>/volumes/<serial>, and the container gets a
// bind mount of it (oci-spec.ts). A disk appears some milliseconds after the
// plug (ACPI hotplug, then the virtio probe), so the lookup waits for it,
// and rescans the PCI bus once in case the hotplug event was missed.
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError, type VolumeMount } from '../contracts/agent-protocol/index.js';
import { isMountPoint } from './rootfs.js';
import { runOk } from './run.js';

/** What the OCI spec needs: the guest directory bound into the container. */
export interface VolumeBind {
  source: string;
  destination: string;
  readOnly: boolean;
}

export interface VolumeEnv {
  sysBlock: string;
  /** Where volumes are mounted in the guest. */
  mountRoot: string;
  /** Written "1" to make the kernel rescan PCI (default /sys/bus/pci/rescan). */
  pciRescan?: string;
  /** How long to wait for a disk to appear. */
  timeoutMs?: number;
  mount?: (args: string[]) => Promise<unknown>;
}

/** The block device (e.g. `vdb`) whose serial is `serial`, or null. */
export async function deviceBySerial(sysBlock: string, serial: string): Promise<string | null> {
  const names = await readdir(sysBlock).catch(() => [] as string[]);
  for (const name of names) {
    const s = await readFile(join(sysBlock, name, 'serial'), 'utf8').catch(() => null);
    if (s !== null && s.trim() === serial) return name;
  }
  return null;
}

async function waitForDevice(env: VolumeEnv, serial: string): Promise<string> {
  const deadline = Date.now() + (env.timeoutMs ?? 30_000);
  let rescanned = false;
  const started = Date.now();
  for (;;) {
    const dev = await deviceBySerial(env.sysBlock, serial);
    if (dev) return dev;
    if (Date.now() > deadline) throw new AgentError('ERR_NOT_FOUND', `the volume disk with serial ${serial} did not appear in the guest`, { field: 'volumes' });
    if (!rescanned && Date.now() - started > 2_000) {
      rescanned = true;
      await writeFile(env.pciRescan ?? '/sys/bus/pci/rescan', '1').catch(() => undefined); // best effort: the poll goes on either way
    }
    await sleep(50);
  }
}

/** Mounts each volume's disk once per VM and returns the binds for the container. */
export async function mountVolumes(env: VolumeEnv, volumes: readonly VolumeMount[]): Promise<VolumeBind[]> {
  const mount = env.mount ?? ((args: string[]) => runOk('mount', args));
  const binds: VolumeBind[] = [];
  for (const v of volumes) {
    const dev = await waitForDevice(env, v.serial);
    const dir = join(env.mountRoot, v.serial);
    await mkdir(dir, { recursive: true });
    const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
    if (!isMountPoint(info, dir)) {
      // Read-write: no delayed allocation and a 1 s journal commit, so data a container wrote is on the
      // disk within a second even if its VM is then destroyed without warning (rm -f). Read-only: a disk
      // whose journal needs replaying cannot be replayed on a read-only device, so mount without it.
      const tries = v.readOnly ? ['ro,noatime', 'ro,noatime,noload'] : ['rw,noatime,nodelalloc,commit=1'];
      let last: Error | null = null;
      for (const opts of tries) {
        last = await mount(['-t', 'ext4', '-o', opts, `/dev/${dev}`, dir]).then(() => null, (e: Error) => e);
        if (last === null) break;
      }
      if (last !== null) throw new AgentError('ERR_IO', `mounting volume disk /dev/${dev} (serial ${v.serial}): ${last.message}`, { field: 'volumes' });
      // mke2fs leaves lost+found; an empty one is removed so a fresh volume is empty, as Docker's are
      // (images such as postgres refuse a non-empty data directory). fsck makes it again if it needs it.
      if (!v.readOnly) await rmdir(join(dir, 'lost+found')).catch(() => undefined);
    }
    binds.push({ source: dir, destination: v.destination, readOnly: v.readOnly });
  }
  return binds;
}

/** Flushes the guest's writes to the volume disks (on container exit: the VM may be destroyed right after). */
export async function syncVolumes(): Promise<void> {
  await runOk('sync', [], { timeoutMs: 60_000 });
}
