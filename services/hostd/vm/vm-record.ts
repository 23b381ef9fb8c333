// What hostd keeps on disk about one VM, beside its disk and sockets in
// `<dataDir>/run/vms/<vmId>/`: enough for a restarted hostd to adopt it (which
// container runs in it, which ports were published). libvirt's `<metadata>`
// says the domain is ours; this file says what we did with it.
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Accel } from '../../contracts/config.js';
import { ForkdError } from '../../contracts/errors.js';
import type { BootMode, NetworkAttachment, PublishedPort } from '../../contracts/jobs.js';

export const VM_DOMAIN_PREFIX = 'forkd-vm-';
/** Warm-pool shells (metadata kind 'pool'); one taken for a VM keeps its name and gets kind 'vm'. */
export const POOL_DOMAIN_PREFIX = 'forkd-pool-';

/** VM ids name domains (`forkd-vm-<id>`, 64 characters at most) and directories. */
const VM_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,54}$/;

export function assertVmId(vmId: string): void {
  if (typeof vmId !== 'string' || !VM_ID_RE.test(vmId)) {
    throw new ForkdError('ERR_VALIDATION', `invalid VM id ${JSON.stringify(vmId)}: 1–55 of A-Z a-z 0-9 _ -, starting with a letter or digit`, { field: 'vmId' });
  }
}

export function domainNameOf(vmId: string): string {
  return `${VM_DOMAIN_PREFIX}${vmId}`;
}

export interface VmPaths {
  dir: string;
  disk: string;
  agentSocket: string;
  consoleLog: string;
  record: string;
}

export function vmPaths(vmsDir: string, vmId: string): VmPaths {
  const dir = join(vmsDir, vmId);
  return {
    dir,
    disk: join(dir, 'disk.qcow2'),
    agentSocket: join(dir, 'agent.sock'),
    consoleLog: join(dir, 'console.log'),
    record: join(dir, 'vm.json'),
  };
}

export interface VmRecord {
  vmId: string;
  hostId: string;
  accel: Accel;
  boot: BootMode;
  createdAt: string;
  vcpus: number;
  memoryMib: number;
  hostname: string;
  /** Set once the container was created in the guest. */
  containerId?: string;
  /** Whose VM this is and the container's name: what its events carry (absent in records from before events). */
  tenantId?: string;
  containerName?: string;
  ports: PublishedPort[];
  timings: Record<string, number>;
  /** The VM's tap (absent: no NIC). */
  tap?: string;
  /** The tenant network its NIC joined (absent: detached). */
  network?: NetworkAttachment;
  /** Volumes hot-plugged into it (services/hostd/volumes/attach.ts): their disks are in use while it runs. */
  volumes?: Array<{ volumeId: string; serial: string }>;
  /** A live fork's child (services/hostd/live-fork/): the fork point it was forked from, kept while it runs. */
  forkPoint?: string;
  /** A live fork's child: the id its guest knows the container by (its parent's); the agent client translates. */
  guestContainerId?: string;
  /** A live fork's parent: its last capture, which a fork soon after may reuse (live-fork/reuse.ts); kept while within FORKD_FORK_REUSE_SEC. */
  lastForkPoint?: { id: string; takenAt: string };
  /** A forked pod's VM (services/hostd/pods/pod-fork.ts): each container's API id → the id its guest knows it by. */
  podGuestIds?: Record<string, string>;
}

/**
 * Writes the record atomically. Each write has a temporary file of its own: with
 * one shared `record.json.tmp`, two writes at once (two containers of a pod
 * removed together, each saving the pod's names) renamed it twice, and the
 * second rename failed ENOENT, failing that container's removal.
 */
export async function writeVmRecord(path: string, rec: VmRecord): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, path);
}

/** The record, or null when it is missing or unreadable (the VM is then not adoptable). */
export async function readVmRecord(path: string): Promise<VmRecord | null> {
  try {
    const rec = JSON.parse(await readFile(path, 'utf8')) as VmRecord;
    if (typeof rec?.vmId !== 'string' || !Array.isArray(rec.ports)) return null;
    return rec;
  } catch {
    return null;
  }
}

/** Parses forkd's `<forkd:domain vm=… host=…/>` element as libvirt returns it. */
export function parseDomainMetadata(xml: string | null): { vm: string; host: string; kind: string } | null {
  if (!xml) return null;
  const attr = (name: string): string | undefined => {
    const m = new RegExp(`\\s${name}=(?:'([^']*)'|"([^"]*)")`).exec(xml);
    return m ? unescapeXml(m[1] ?? m[2] ?? '') : undefined;
  };
  const vm = attr('vm');
  const host = attr('host');
  const kind = attr('kind');
  if (vm === undefined || host === undefined || kind === undefined) return null;
  return { vm, host, kind };
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}
