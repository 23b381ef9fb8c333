import { ApiClient } from '../api-client.js';
import { JSON_OPTION, printJson, printTable, type Command } from '../command.js';

interface InfoHost {
  hostId: string; state: string; accel?: string; accelReason?: string; libvirtVersion?: string; qemuVersion?: string;
  capacity?: { cpus: number; memoryMib: number; freeMemoryMib: number }; vms?: { running: number; total: number }; ksm?: { available: boolean; running: boolean; pagesSharing: number }; error?: string;
}
interface Info { version: string; accel: string | null; libvirtVersion: string | null; qemuVersion: string | null; hosts: InfoHost[] }

export const infoCommand: Command = {
  path: ['info'],
  summary: 'Show the server version, accelerator, libvirt/QEMU versions and hosts',
  usage: 'forkd info [--json]',
  options: JSON_OPTION,
  async run({ values }) {
    const info = await ApiClient.fromEnv().request<Info>('GET', '/v1/info');
    if (values.json) {
      printJson(info);
      return 0;
    }
    process.stdout.write(`forkd ${info.version}  accel=${info.accel ?? '?'}  libvirt=${info.libvirtVersion ?? '?'}  qemu=${info.qemuVersion ?? '?'}\n\n`);
    printTable(['HOST', 'STATE', 'ACCEL', 'CPUS', 'MEMORY', 'FREE', 'VMS', 'KSM'], info.hosts.map((h) => [
      h.hostId, h.state + (h.error ? ` (${h.error})` : ''), h.accel ? `${h.accel}${h.accelReason ? ` (${h.accelReason.length > 40 ? `${h.accelReason.slice(0, 39)}…` : h.accelReason})` : ''}` : null,
      h.capacity?.cpus, h.capacity ? `${h.capacity.memoryMib} MiB` : null, h.capacity ? `${h.capacity.freeMemoryMib} MiB` : null,
      h.vms ? `${h.vms.running}/${h.vms.total}` : null,
      h.ksm ? (h.ksm.available ? (h.ksm.running ? `on (${h.ksm.pagesSharing} pages shared)` : 'off') : 'absent') : null,
    ]));
    return 0;
  },
};
