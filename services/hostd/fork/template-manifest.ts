// The on-disk record of a template: what it was built from and on, and the
// size and checksum of each file a fork depends on. Written last by the
// template builder (its presence means the template is complete), read and
// checked before every fork.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ForkdError } from '../../contracts/errors.js';
import type { Accel } from '../../contracts/config.js';
import type { NetworkSpec } from '../vm/domain-xml.js';
import { FORK_FORMAT_VERSION } from './format.js';

/**
 * Version of the template layout and of the save/restore recipe (device state
 * saved with x-ignore-shared into `state`, RAM in `memory`, disk frozen as
 * `disk.qcow2`): the fork's format version (format.ts). A template with
 * another version is stale and gets rebuilt.
 */
export const TEMPLATE_FORMAT_VERSION = FORK_FORMAT_VERSION;

export const TEMPLATE_FILES = { memory: 'memory', state: 'state', disk: 'disk.qcow2', manifest: 'manifest.json' } as const;

export type TemplateFileKind = 'memory' | 'state' | 'disk';

export interface FileRecord {
  size: number;
  /** sha256 of the whole file (hex). */
  sha256: string;
  /** sha256 of the sampled chunks (see sampledSha256), for the fast check. */
  sampledSha256: string;
}

export interface TemplateManifest {
  formatVersion: number;
  id: string;
  imageId: string;
  kernel: string;
  initramfs: string;
  cmdline: string;
  vcpus: number;
  memoryMib: number;
  /** The accelerator the template ran under ('tcg' is libvirt domain type 'qemu'). */
  accel: Accel;
  qemuVersion: string;
  machine: string;
  ramId: string;
  /** The template's NIC (clones keep the device; null: none). */
  network: NetworkSpec | null;
  createdAt: string;
  files: Record<TemplateFileKind, FileRecord>;
}

/** What the host runs now; a template built under anything else is stale. */
export interface HostInfo {
  accel: Accel;
  qemuVersion: string;
  machine: string;
  /**
   * The NIC this host gives new VMs (FORKD_NETWORK; null: none). When given, a
   * template built with another one is stale: a clone's NIC device must be its
   * template's, so a template without a NIC cannot become a VM with one.
   */
  network?: NetworkSpec | null;
}

export type Compatibility = { ok: true } | { ok: false; reason: string };

export function isTemplateCompatible(m: TemplateManifest, host: HostInfo): Compatibility {
  if (m.formatVersion !== TEMPLATE_FORMAT_VERSION) {
    return { ok: false, reason: `template format ${m.formatVersion}, this forkd writes ${TEMPLATE_FORMAT_VERSION}` };
  }
  if (m.accel !== host.accel) return { ok: false, reason: `built under ${m.accel}, host runs ${host.accel}` };
  if (m.qemuVersion !== host.qemuVersion) return { ok: false, reason: `built with QEMU ${m.qemuVersion}, host has ${host.qemuVersion}` };
  if (m.machine !== host.machine) return { ok: false, reason: `machine ${m.machine}, host uses ${host.machine}` };
  if (host.network !== undefined && JSON.stringify(m.network ?? null) !== JSON.stringify(host.network)) {
    const nic = (n: NetworkSpec | null | undefined): string => (n ? `NIC ${JSON.stringify(n)}` : 'no NIC');
    return { ok: false, reason: `built with ${nic(m.network)}, host gives VMs ${nic(host.network)}` };
  }
  return { ok: true };
}

/** Throws ERR_TEMPLATE_STALE when the template cannot be forked on this host. */
export function assertTemplateCompatible(m: TemplateManifest, host: HostInfo): void {
  const c = isTemplateCompatible(m, host);
  if (!c.ok) throw new ForkdError('ERR_TEMPLATE_STALE', `template ${m.id} is stale: ${c.reason}`, { detail: { template: m.id } });
}

// ---- checksums ----------------------------------------------------------

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const SAMPLE_COUNT = 256;
const SAMPLE_BYTES = 16 * 1024;

/**
 * sha256 over SAMPLE_COUNT chunks of SAMPLE_BYTES at offsets spread evenly
 * over the file (first and last chunk included), each prefixed by its offset.
 * 4 MiB read whatever the file size: it catches truncation, a replaced or
 * zeroed file and most scribbles, not a flipped byte between samples.
 */
export async function sampledSha256(path: string, size?: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const total = size ?? (await fh.stat()).size;
    const h = createHash('sha256');
    const buf = Buffer.alloc(SAMPLE_BYTES);
    const last = Math.max(0, total - SAMPLE_BYTES);
    const n = total <= SAMPLE_BYTES ? 1 : SAMPLE_COUNT;
    for (let i = 0; i < n; i++) {
      const offset = n === 1 ? 0 : Math.floor((i * last) / (n - 1));
      const { bytesRead } = await fh.read(buf, 0, SAMPLE_BYTES, offset);
      h.update(`${offset}:`);
      h.update(buf.subarray(0, bytesRead));
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

export async function recordFile(path: string): Promise<FileRecord> {
  const { size } = await stat(path);
  const [sha256, sampled] = await Promise.all([sha256File(path), sampledSha256(path, size)]);
  return { size, sha256, sampledSha256: sampled };
}

export type VerifyMode = 'full' | 'fast';

/**
 * Checks that the template's files are the ones the manifest describes, and
 * throws ERR_TEMPLATE_CORRUPT (before any domain exists) when they are not.
 *
 * 'full' hashes every byte: right after a build, on hostd start, or when a
 * fork failed in a way that suggests damage. 'fast' is what every fork runs:
 * hashing a multi-GiB memory file (and disk) costs seconds per fork, more than
 * the fork itself, so it checks every size, the whole state file (small,
 * ~1 MB, and the part QEMU parses first), and a sampled checksum of the memory
 * file and disk (see sampledSha256). The files are root's and read-only after
 * the build; the check guards against truncation, a half-copied or replaced
 * template and disk trouble, not against a determined local attacker.
 */
export async function verifyTemplateFiles(dir: string, m: TemplateManifest, mode: VerifyMode = 'fast'): Promise<void> {
  for (const kind of ['state', 'memory', 'disk'] as const) {
    const path = join(dir, TEMPLATE_FILES[kind]);
    const want = m.files[kind];
    const fail = (why: string): ForkdError =>
      new ForkdError('ERR_TEMPLATE_CORRUPT', `template ${m.id}: ${kind} file ${why}`, { detail: { template: m.id, file: kind } });
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      throw fail(`is missing (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    if (size !== want.size) throw fail(`has ${size} bytes, the manifest says ${want.size}`);
    if (mode === 'full' || kind === 'state') {
      if ((await sha256File(path)) !== want.sha256) throw fail('fails its sha256 check');
    } else if ((await sampledSha256(path, size)) !== want.sampledSha256) {
      throw fail('fails its sampled checksum');
    }
  }
}

// ---- reading and writing ------------------------------------------------

const HEX64 = /^[0-9a-f]{64}$/;

function isFileRecord(v: unknown): v is FileRecord {
  const r = v as FileRecord;
  return typeof r === 'object' && r !== null && Number.isSafeInteger(r.size) && r.size >= 0 && HEX64.test(r.sha256) && HEX64.test(r.sampledSha256);
}

export function parseManifest(text: string, id = '?'): TemplateManifest {
  const bad = (why: string): ForkdError =>
    new ForkdError('ERR_TEMPLATE_CORRUPT', `template ${id}: manifest ${why}`, { detail: { template: id, file: 'manifest' } });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('is not JSON');
  }
  const m = v as TemplateManifest;
  const strings = ['id', 'imageId', 'kernel', 'initramfs', 'cmdline', 'qemuVersion', 'machine', 'ramId', 'createdAt'] as const;
  if (typeof m !== 'object' || m === null) throw bad('is not an object');
  if (!Number.isInteger(m.formatVersion)) throw bad('has no formatVersion');
  for (const k of strings) if (typeof m[k] !== 'string') throw bad(`field ${k} is not a string`);
  if (!Number.isInteger(m.vcpus) || !Number.isInteger(m.memoryMib)) throw bad('has no vcpus/memoryMib');
  if (m.accel !== 'kvm' && m.accel !== 'tcg') throw bad('has no valid accel');
  if (m.network === undefined) throw bad('has no network field');
  if (typeof m.files !== 'object' || m.files === null) throw bad('has no files');
  for (const k of ['memory', 'state', 'disk'] as const) if (!isFileRecord(m.files[k])) throw bad(`file record ${k} is malformed`);
  return m;
}

export async function readManifest(dir: string): Promise<TemplateManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, TEMPLATE_FILES.manifest), 'utf8');
  } catch (err) {
    throw new ForkdError('ERR_TEMPLATE_CORRUPT', `template at ${dir} has no readable manifest`, {
      detail: { dir, file: 'manifest' },
      cause: err,
    });
  }
  return parseManifest(text, dir);
}

/** Writes the manifest atomically (temp file + rename): a template without one is incomplete. */
export async function writeManifest(dir: string, m: TemplateManifest): Promise<void> {
  const path = join(dir, TEMPLATE_FILES.manifest);
  await writeFile(`${path}.tmp`, JSON.stringify(m, null, 2) + '\n', { mode: 0o444 });
  await rename(`${path}.tmp`, path);
}
