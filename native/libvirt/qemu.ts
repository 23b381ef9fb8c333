// QEMU monitor passthrough (libvirt-qemu.so.0). libvirt marks a domain
// "tainted" when these are used; forkd uses them only for what libvirt has no
// API for (x-ignore-shared migration to and from a passed fd).
import { isNegative, type Lane } from './call.js';
import { lv, takeIntArray, takeString, type Ptr } from './ffi.js';

export interface MonitorReplyWithFiles {
  /** The monitor's reply, verbatim (QMP JSON unless the HMP flag was given). */
  reply: string;
  /** File descriptors QEMU passed back; the caller owns and must close them. */
  fds: number[];
}

export async function monitorCommand(dom: Ptr, lane: Lane, cmd: string, flags: number): Promise<string> {
  const result: (Ptr | null)[] = [null];
  await lane.call<number>(lv.virDomainQemuMonitorCommand, [dom, cmd, result, flags], {
    op: 'virDomainQemuMonitorCommand',
    failed: isNegative,
  });
  return takeString(result[0] ?? null) ?? '';
}

/**
 * Send `cmd` with open file descriptors attached (SCM_RIGHTS through libvirtd
 * to QEMU), e.g. for QMP `getfd`. The fds stay open and owned by the caller:
 * QEMU receives duplicates.
 */
export async function monitorCommandWithFiles(
  dom: Ptr,
  lane: Lane,
  cmd: string,
  fds: readonly number[],
  flags: number,
): Promise<MonitorReplyWithFiles> {
  const infiles = Int32Array.from(fds);
  const noutfiles: number[] = [0];
  const outfiles: (Ptr | null)[] = [null];
  const result: (Ptr | null)[] = [null];
  await lane.call<number>(
    lv.virDomainQemuMonitorCommandWithFiles,
    [dom, cmd, infiles.length, infiles.length > 0 ? infiles : null, noutfiles, outfiles, result, flags],
    { op: 'virDomainQemuMonitorCommandWithFiles', failed: isNegative },
  );
  const outFds = takeIntArray(outfiles[0] ?? null, noutfiles[0] ?? 0);
  return { reply: takeString(result[0] ?? null) ?? '', fds: outFds };
}
