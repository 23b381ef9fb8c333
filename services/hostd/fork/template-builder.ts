// Builds a template: boots the guest image with its RAM in a shared file,
// waits for the agent, lets the caller prepare it (an app template imports
// images or starts containers), saves device state, destroys the domain and
// freezes the disk. The manifest is written last: a directory without one is
// an unfinished build. Any failure removes everything the build made.

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Accel } from '../../contracts/config.js';
import { ForkdError } from '../../contracts/errors.js';
import { libvirtCall } from '../libvirt.js';
import { buildDomainXml, domainTypeFor, MACHINE_TYPE, type NetworkSpec } from '../vm/domain-xml.js';
import { tapName } from '../network/names.js';
import { Taps, type TapPort } from '../network/taps.js';
import { saveDeviceState } from './device-state.js';
import { createOverlay, freezeDisk } from './disk-overlay.js';
import { FORK_FORMAT_VERSION } from './format.js';
import { newMac } from './identity.js';
import { destroyQuietly, type ForkAgent, type ForkConnection, type ForkDomain, type Progress } from './ports.js';
import { domainQmp } from './qmp.js';
import { giveToQemu } from './qemu-owner.js';
import { recordFile, TEMPLATE_FILES, writeManifest, type TemplateManifest } from './template-manifest.js';

/** What the fork needs of a built guest image (images/guest/build.ts's GuestImage has these). */
export interface GuestImageRef {
  id: string;
  kernel: string;
  initramfs: string;
  /** qcow2; the template's disk is an overlay on it, so it must stay where it is. */
  rootDisk: string;
  cmdline: string;
}

/** The id of QEMU's RAM backend in every template and clone; a clone's must equal its template's. */
export const RAM_ID = 'forkd-ram';

export interface BuildTemplateOptions<A extends ForkAgent = ForkAgent> {
  conn: ForkConnection;
  image: GuestImageRef;
  vcpus: number;
  memoryMib: number;
  accel: Accel;
  /** The template's directory; must not hold a finished template. */
  dir: string;
  /** Defaults to the directory's name. */
  id?: string;
  /** Domain name while building (default `forkd-tmpl-<id>`; tests use `forkd-test-<suite>-…`). */
  name?: string;
  hostId: string;
  /** QEMU version on this host (recorded; a change makes the template stale). */
  qemuVersion: string;
  /** The NIC clones get (none when absent). Clones keep the device; its host side is each clone's own tap. */
  network?: NetworkSpec;
  /** Makes and removes the build's tap (default: the host's); the tap stays detached: a template is on no network. */
  taps?: TapPort;
  /** Connects to the guest agent. Without one the build waits for `readyMarker` on the console instead. */
  agent?: (socketPath: string) => A;
  /** Console line that means "booted" when no agent is given. */
  readyMarker?: string;
  /** App templates: import images, start containers. Runs after the agent answered. */
  prepare?: (agent: A) => Promise<void>;
  readyTimeoutMs?: number;
  onProgress?: Progress;
}

export interface TemplateBuildResult {
  dir: string;
  manifest: TemplateManifest;
  timings: { bootMs: number; prepareMs: number; saveMs: number; checksumMs: number; totalMs: number };
}

async function waitForConsole(path: string, marker: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.includes(marker)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = (await readFile(path, 'utf8').catch(() => '')).slice(-400);
  throw new ForkdError('ERR_GUEST_TIMEOUT', `template guest did not print ${marker} within ${timeoutMs} ms; console: ${tail}`);
}

export async function buildTemplate<A extends ForkAgent>(opts: BuildTemplateOptions<A>): Promise<TemplateBuildResult> {
  const t0 = Date.now();
  const progress: Progress = opts.onProgress ?? (() => undefined);
  const id = opts.id ?? basename(opts.dir);
  const name = opts.name ?? `forkd-tmpl-${id}`;
  const paths = {
    memory: join(opts.dir, TEMPLATE_FILES.memory),
    state: join(opts.dir, TEMPLATE_FILES.state),
    disk: join(opts.dir, TEMPLATE_FILES.disk),
    agentSocket: join(opts.dir, 'agent.sock'),
    consoleLog: join(opts.dir, 'console.log'),
  };
  if (!opts.agent && !opts.readyMarker) throw new ForkdError('ERR_INTERNAL', 'buildTemplate needs an agent connector or a readyMarker');
  if (existsSync(join(opts.dir, TEMPLATE_FILES.manifest))) {
    throw new ForkdError('ERR_CONFLICT', `template ${id} already exists at ${opts.dir}`, { detail: { template: id } });
  }

  // Leftovers of a build that crashed: its domain and its directory.
  await destroyQuietly(await opts.conn.lookupDomainByName(name).catch(() => null));
  await rm(opts.dir, { recursive: true, force: true });

  let domain: ForkDomain | null = null;
  let agent: A | null = null;
  const tap = opts.network === undefined ? null : tapName(`tmpl:${id}`);
  const taps = opts.taps ?? Taps.host;
  try {
    if (tap !== null) await taps.create(tap);
    progress('prepare-files', { dir: opts.dir });
    await mkdir(opts.dir, { recursive: true, mode: 0o755 });
    await createOverlay(opts.image.rootDisk, paths.disk);
    // QEMU opens the memory file itself (libvirt does not label qemu:commandline paths): create it for QEMU's user.
    const mem = await open(paths.memory, 'w', 0o600);
    await mem.truncate(opts.memoryMib * 1024 * 1024);
    await mem.close();
    await giveToQemu(paths.memory);

    progress('boot', { name, accel: opts.accel });
    const xml = buildDomainXml({
      name,
      uuid: randomUUID(),
      type: domainTypeFor(opts.accel),
      machine: MACHINE_TYPE,
      vcpus: opts.vcpus,
      memoryMib: opts.memoryMib,
      kernel: opts.image.kernel,
      initramfs: opts.image.initramfs,
      cmdline: opts.image.cmdline,
      disks: [{ path: paths.disk, format: 'qcow2' }],
      ...(opts.network === undefined || tap === null ? {} : { nic: { mac: newMac(), network: opts.network, tap } }),
      agentSocket: paths.agentSocket,
      consoleLog: paths.consoleLog,
      metadata: {
        vm: id,
        host: opts.hostId,
        kind: 'tmpl',
        created: new Date().toISOString(),
        extra: { image: opts.image.id, format: String(FORK_FORMAT_VERSION) },
      },
      memory: { mode: 'template', ramId: RAM_ID, memPath: paths.memory, share: true },
    });
    domain = await libvirtCall(`starting template ${name}`, () => opts.conn.createDomainXML(xml, 0));

    const readyTimeoutMs = opts.readyTimeoutMs ?? 180_000;
    if (opts.agent) {
      agent = opts.agent(paths.agentSocket);
      await agent.waitReady({ timeoutMs: readyTimeoutMs });
    } else {
      await waitForConsole(paths.consoleLog, opts.readyMarker!, readyTimeoutMs);
    }
    const bootMs = Date.now() - t0;

    const tPrepare = Date.now();
    if (opts.prepare) {
      if (!agent) throw new ForkdError('ERR_INTERNAL', 'prepare needs an agent');
      progress('prepare');
      await opts.prepare(agent);
    }
    const prepareMs = Date.now() - tPrepare;

    progress('save');
    const tSave = Date.now();
    const qmp = domainQmp(domain);
    const version = (await qmp('query-version')) as { qemu: { major: number; minor: number; micro: number } };
    const qemuVersion = `${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro}`;
    if (qemuVersion !== opts.qemuVersion) {
      progress('qemu-version-differs', { running: qemuVersion, given: opts.qemuVersion });
    }
    await saveDeviceState(qmp, paths.state);
    agent?.close();
    agent = null;
    await destroyQuietly(domain);
    domain = null;
    await rm(paths.agentSocket, { force: true });
    await freezeDisk(paths.disk);
    const saveMs = Date.now() - tSave;

    progress('checksum');
    const tSum = Date.now();
    const [memory, state, disk] = await Promise.all([recordFile(paths.memory), recordFile(paths.state), recordFile(paths.disk)]);
    const manifest: TemplateManifest = {
      formatVersion: FORK_FORMAT_VERSION,
      id,
      imageId: opts.image.id,
      kernel: opts.image.kernel,
      initramfs: opts.image.initramfs,
      cmdline: opts.image.cmdline,
      vcpus: opts.vcpus,
      memoryMib: opts.memoryMib,
      accel: opts.accel,
      qemuVersion,
      machine: MACHINE_TYPE,
      ramId: RAM_ID,
      network: opts.network ?? null,
      createdAt: new Date().toISOString(),
      files: { memory, state, disk },
    };
    await writeManifest(opts.dir, manifest);
    const checksumMs = Date.now() - tSum;
    progress('ready', { id });
    return { dir: opts.dir, manifest, timings: { bootMs, prepareMs, saveMs, checksumMs, totalMs: Date.now() - t0 } };
  } catch (err) {
    agent?.close();
    await destroyQuietly(domain);
    await rm(opts.dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  } finally {
    // The template domain is gone either way (destroyed after the save, or above); so is its tap.
    if (tap !== null) await taps.remove(tap).catch(() => undefined); // best effort: hostd's start-up sweep removes forgotten taps
  }
}
