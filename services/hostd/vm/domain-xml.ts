// The one builder for every libvirt domain forkd creates: templates, clones,
// warm-pool shells and probes. A pure function of a DomainSpec, so the template
// and its clones come out of the same code and differ only where the spec does.
//
// What a clone needs to match its template, and how this file keeps it so:
// - the machine type is pinned (MACHINE_TYPE) and recorded in the template
//   manifest; QEMU loads device state only into the same machine;
// - every PCI device has a fixed address (PCI_SLOTS), so a migration stream
//   saved by the template finds the same devices in the clone;
// - guest RAM is one memory-backend-file with the same id in both; the
//   template maps it shared, a clone privately (copy-on-write);
// - nothing that discards or shares guest pages: no balloon, no virtio-mem,
//   no virtio-fs (they break the private mapping; DESIGN.md).

import type { NetworkMode } from '../../contracts/config.js';

/** libvirt's domain type: 'kvm', or 'qemu' for TCG. */
export type DomainType = 'kvm' | 'qemu';

/** The libvirt domain type for forkd's accelerator setting ('tcg' runs as domain type 'qemu'). */
export function domainTypeFor(accel: 'kvm' | 'tcg'): DomainType {
  return accel === 'kvm' ? 'kvm' : 'qemu';
}

/** QEMU 7.2's default i440FX machine, pinned so a template outlives a QEMU upgrade only when the machine still matches. */
export const MACHINE_TYPE = 'pc-i440fx-7.2';

export const FORKD_XMLNS = 'https://forkd.dev/xmlns/domain/1';
const QEMU_XMLNS = 'http://libvirt.org/schemas/domain/qemu/1.0';

/** The virtio-serial port name the agent listens on inside the guest. */
export const AGENT_PORT_NAME = 'org.forkd.agent.0';

export interface DiskSpec {
  path: string;
  format: 'qcow2';
  readonly?: boolean;
}

/**
 * The host side of every NIC forkd makes: a tap hostd created itself, down
 * and detached until a tenant network takes it (services/hostd/network/).
 * libvirt gets it unmanaged, so it neither creates, configures nor deletes it.
 * QEMU user networking and libvirt's `default` network are gone on purpose:
 * both let a guest reach the host (slirp maps 10.0.2.2 to the host's loopback).
 */
export type NetworkSpec = 'tap';

/** The host side of the NIC for forkd's FORKD_NETWORK setting (null: no NIC). */
export function networkSpecFor(mode: NetworkMode): NetworkSpec | null {
  return mode === 'none' ? null : 'tap';
}

export interface NicSpec {
  mac: string;
  network: NetworkSpec;
  /** The tap device's name (services/hostd/network/names.ts tapName). */
  tap: string;
}

export type MemorySpec =
  | { mode: 'anonymous' }
  | { mode: 'template'; ramId: string; memPath: string; share: true }
  | { mode: 'clone'; ramId: string; memPath: string; share: false; incoming: 'defer' }
  /** Live fork (fork/live-fork.ts): a paused QEMU that receives a running VM's RAM into a new shared file. */
  | { mode: 'freezer'; ramId: string; memPath: string; share: true; incoming: 'defer' };

export type DomainKind = 'vm' | 'tmpl' | 'probe' | 'test' | 'pool';

/** forkd's record in `<metadata>`, so hostd can adopt or clean up its domains after a restart. */
export interface DomainMetadata {
  vm: string;
  host: string;
  kind: DomainKind;
  /** ISO-8601 time the domain was created. */
  created: string;
  /** Further attributes (template id, format version); keys must be XML names. */
  extra?: Record<string, string>;
}

/**
 * TCG's translated-code buffer per VM (QEMU's `tb-size`, libvirt's
 * `<tcg><tb-cache>`), MiB; null: QEMU's default (up to 1 GiB, touched as it
 * fills). A clone re-translates what its guest runs, so its buffer is private
 * memory: the biggest part of a clone's footprint under TCG
 * (docs/benchmarks.md). One setting per host (FORKD_TCG_TB_CACHE_MIB), set
 * once at start by hostd and the benchmarks, not per domain: every domain
 * builder gets it without passing it through.
 */
let tcgTbCacheMib: number | null = null;

export function configureTcg(opts: { tbCacheMib: number | null }): void {
  tcgTbCacheMib = opts.tbCacheMib;
}

export interface DomainSpec {
  name: string;
  uuid: string;
  /** libvirt domain type: 'kvm' on real hosts, 'qemu' (TCG) where KVM is unusable. Never assume either. */
  type: DomainType;
  /** Defaults to MACHINE_TYPE; a clone must use its template's. */
  machine?: string;
  vcpus: number;
  memoryMib: number;
  kernel: string;
  initramfs: string;
  cmdline: string;
  disks: DiskSpec[];
  nic?: NicSpec;
  /** Host path of the unix socket libvirt binds for the agent's virtio-serial port. */
  agentSocket: string;
  /** File the guest's serial console is written to. */
  consoleLog: string;
  metadata: DomainMetadata;
  memory: MemorySpec;
  /** VM Generation ID (a UUID). Omitted: libvirt picks one. A clone gets a fresh one so its kernel reseeds. */
  genid?: string;
}

// Fixed PCI slots (bus 0). Slot 1 is the PIIX3 ISA bridge / IDE / USB / PM.
const PCI_SLOTS = { nic: 0x03, virtioSerial: 0x04, firstDisk: 0x05 } as const;
const MAX_DISKS = 32 - PCI_SLOTS.firstDisk;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const QOM_ID_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/;
const XML_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Escapes text for both element content and single- or double-quoted attributes. */
export function escapeXml(value: string): string {
  // XML 1.0 cannot carry most control characters at all, escaped or not.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(value)) {
    throw new Error(`value contains a control character XML cannot carry: ${JSON.stringify(value)}`);
  }
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** QEMU's option parser splits on commas; a literal comma in a value is written twice. */
export function escapeQemuOptValue(value: string): string {
  return value.replace(/,/g, ',,');
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`invalid domain spec: ${what}`);
}

function validate(spec: DomainSpec): void {
  check(NAME_RE.test(spec.name), `name ${JSON.stringify(spec.name)}`);
  check(UUID_RE.test(spec.uuid), `uuid ${JSON.stringify(spec.uuid)}`);
  check(spec.type === 'kvm' || spec.type === 'qemu', `type ${JSON.stringify(spec.type)}`);
  check(Number.isInteger(spec.vcpus) && spec.vcpus >= 1 && spec.vcpus <= 255, `vcpus ${spec.vcpus}`);
  check(Number.isInteger(spec.memoryMib) && spec.memoryMib >= 16, `memoryMib ${spec.memoryMib}`);
  check(spec.disks.length <= MAX_DISKS, `at most ${MAX_DISKS} disks`);
  for (const d of spec.disks) check(d.format === 'qcow2' && d.path.length > 0, `disk ${JSON.stringify(d.path)}`);
  if (spec.nic) check(MAC_RE.test(spec.nic.mac), `mac ${JSON.stringify(spec.nic.mac)}`);
  if (spec.nic) check(/^[A-Za-z0-9_-]{1,15}$/.test(spec.nic.tap), `tap ${JSON.stringify(spec.nic.tap)}`);
  if (spec.genid !== undefined) check(UUID_RE.test(spec.genid), `genid ${JSON.stringify(spec.genid)}`);
  check(spec.agentSocket.length > 0 && spec.consoleLog.length > 0, 'agentSocket and consoleLog are required');
  for (const key of Object.keys(spec.metadata.extra ?? {})) {
    check(XML_NAME_RE.test(key) && !['vm', 'host', 'kind', 'created'].includes(key), `metadata key ${JSON.stringify(key)}`);
  }
  const m = spec.memory;
  if (m.mode !== 'anonymous') {
    check(QOM_ID_RE.test(m.ramId), `ramId ${JSON.stringify(m.ramId)}`);
    check(m.memPath.startsWith('/'), `memPath must be absolute: ${JSON.stringify(m.memPath)}`);
    const ok = m.mode === 'template' ? m.share === true : m.mode === 'freezer' ? m.share === true && m.incoming === 'defer' : m.share === false && m.incoming === 'defer';
    check(ok, `memory ${m.mode} sharing`);
  }
}

const e = escapeXml;

function pciAddress(slot: number): string {
  return `<address type='pci' domain='0x0000' bus='0x00' slot='0x${slot.toString(16).padStart(2, '0')}' function='0x0'/>`;
}

function diskTarget(i: number): string {
  return `vd${String.fromCharCode('a'.charCodeAt(0) + i)}`;
}

function renderNic(nic: NicSpec): string {
  const mac = `<mac address='${e(nic.mac.toLowerCase())}'/>`;
  // No vhost on this kind of host (no /dev/vhost-net); the userspace backend works everywhere.
  // No option ROM: nothing PXE-boots (the kernel is given directly), and under TCG the ROM costs boot time.
  const tail = `<model type='virtio'/><driver name='qemu'/><rom enabled='no'/>${pciAddress(PCI_SLOTS.nic)}`;
  return `<interface type='ethernet'>${mac}<target dev='${e(nic.tap)}' managed='no'/>${tail}</interface>`;
}

function renderMemoryArgs(m: MemorySpec, memoryMib: number): string[] {
  if (m.mode === 'anonymous') return [];
  const args = [
    '-object',
    `memory-backend-file,id=${m.ramId},size=${memoryMib}M,mem-path=${escapeQemuOptValue(m.memPath)},share=${m.share ? 'on' : 'off'}`,
    '-machine',
    `memory-backend=${m.ramId}`,
  ];
  if (m.mode === 'clone' || m.mode === 'freezer') args.push('-incoming', m.incoming);
  return args;
}

function renderMetadata(md: DomainMetadata): string {
  const attrs: [string, string][] = [
    ['vm', md.vm],
    ['host', md.host],
    ['kind', md.kind],
    ['created', md.created],
    ...Object.entries(md.extra ?? {}),
  ];
  const rendered = attrs.map(([k, v]) => `${k}='${e(v)}'`).join(' ');
  return `<metadata><forkd:domain xmlns:forkd='${FORKD_XMLNS}' ${rendered}/></metadata>`;
}

export function buildDomainXml(spec: DomainSpec): string {
  validate(spec);
  const machine = spec.machine ?? MACHINE_TYPE;
  const lines: string[] = [];
  const add = (s: string): void => void lines.push(s);

  add(`<domain type='${spec.type}' xmlns:qemu='${QEMU_XMLNS}'>`);
  add(`  <name>${e(spec.name)}</name>`);
  add(`  <uuid>${e(spec.uuid.toLowerCase())}</uuid>`);
  add(spec.genid === undefined ? '  <genid/>' : `  <genid>${e(spec.genid.toLowerCase())}</genid>`);
  add(`  ${renderMetadata(spec.metadata)}`);
  add(`  <memory unit='MiB'>${spec.memoryMib}</memory>`);
  add(`  <currentMemory unit='MiB'>${spec.memoryMib}</currentMemory>`);
  add(`  <vcpu placement='static'>${spec.vcpus}</vcpu>`);
  add('  <os>');
  add(`    <type arch='x86_64' machine='${e(machine)}'>hvm</type>`);
  add(`    <kernel>${e(spec.kernel)}</kernel>`);
  add(`    <initrd>${e(spec.initramfs)}</initrd>`);
  add(`    <cmdline>${e(spec.cmdline)}</cmdline>`);
  add('  </os>');
  // Only under TCG: a KVM domain has no translated code, and libvirt refuses <tcg> there.
  const tcg = spec.type === 'qemu' && tcgTbCacheMib !== null ? `<tcg><tb-cache unit='MiB'>${tcgTbCacheMib}</tb-cache></tcg>` : '';
  add(`  <features><acpi/>${tcg}</features>`);
  // KVM: the host CPU (templates are host-bound anyway; the manifest records QEMU and machine).
  // TCG: QEMU's default model, identical for template and clone.
  if (spec.type === 'kvm') add(`  <cpu mode='host-passthrough' check='none' migratable='on'/>`);
  add(`  <clock offset='utc'/>`);
  add('  <on_poweroff>destroy</on_poweroff>');
  add('  <on_reboot>destroy</on_reboot>');
  add('  <on_crash>destroy</on_crash>');
  add('  <devices>');
  spec.disks.forEach((d, i) => {
    add(
      `    <disk type='file' device='disk'><driver name='qemu' type='qcow2' discard='ignore'/>` +
        `<source file='${e(d.path)}'/><target dev='${diskTarget(i)}' bus='virtio'/>` +
        `${d.readonly ? '<readonly/>' : ''}${pciAddress(PCI_SLOTS.firstDisk + i)}</disk>`,
    );
  });
  if (spec.nic) add(`    ${renderNic(spec.nic)}`);
  add(`    <controller type='usb' model='none'/>`);
  add(`    <controller type='virtio-serial' index='0'>${pciAddress(PCI_SLOTS.virtioSerial)}</controller>`);
  add(
    `    <channel type='unix'><source mode='bind' path='${e(spec.agentSocket)}'/>` +
      `<target type='virtio' name='${AGENT_PORT_NAME}'/><address type='virtio-serial' controller='0' bus='0' port='1'/></channel>`,
  );
  add(`    <serial type='file'><source path='${e(spec.consoleLog)}'/><target port='0'/></serial>`);
  add(`    <console type='file'><source path='${e(spec.consoleLog)}'/><target type='serial' port='0'/></console>`);
  add(`    <video><model type='none'/></video>`);
  add(`    <memballoon model='none'/>`);
  add('  </devices>');
  const args = renderMemoryArgs(spec.memory, spec.memoryMib);
  if (args.length > 0) {
    add('  <qemu:commandline>');
    for (const a of args) add(`    <qemu:arg value='${e(a)}'/>`);
    add('  </qemu:commandline>');
  }
  add('</domain>');
  return lines.join('\n') + '\n';
}
