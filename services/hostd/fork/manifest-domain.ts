// The domain XML of a VM made from a template manifest: a clone (fork.ts) and
// a live fork's freezer (live-fork.ts) both take the template's machine,
// vcpus, memory, kernel and NIC *device* from its manifest and differ only in
// name, disk, sockets, metadata and how RAM is mapped. One helper, so the two
// cannot drift apart (a device the clone has and the freezer lacks would make
// the fork point's device state unloadable).
import { buildDomainXml, domainTypeFor, type DomainMetadata, type MemorySpec, type NetworkSpec } from '../vm/domain-xml.js';
import type { TemplateManifest } from './template-manifest.js';

export interface ManifestDomainSpec {
  name: string;
  uuid: string;
  /** Omitted: libvirt picks one (the freezer never runs a guest). */
  genid?: string;
  /** The VM's own qcow2 (overlay on the template's disk, or the fork point's copy). */
  disk: string;
  /** The NIC's host side; null or absent: no NIC (the template has none). */
  nic?: { mac: string; network: NetworkSpec; tap: string } | null;
  agentSocket: string;
  consoleLog: string;
  metadata: DomainMetadata;
  memory: Extract<MemorySpec, { mode: 'clone' | 'freezer' }>;
}

/** The domain XML for a VM whose devices are the template's (`m`). */
export function manifestDomainXml(m: TemplateManifest, spec: ManifestDomainSpec): string {
  return buildDomainXml({
    name: spec.name,
    uuid: spec.uuid,
    ...(spec.genid === undefined ? {} : { genid: spec.genid }),
    type: domainTypeFor(m.accel),
    machine: m.machine,
    vcpus: m.vcpus,
    memoryMib: m.memoryMib,
    kernel: m.kernel,
    initramfs: m.initramfs,
    cmdline: m.cmdline,
    disks: [{ path: spec.disk, format: 'qcow2' }],
    ...(spec.nic ? { nic: spec.nic } : {}),
    agentSocket: spec.agentSocket,
    consoleLog: spec.consoleLog,
    metadata: spec.metadata,
    memory: spec.memory,
  });
}
