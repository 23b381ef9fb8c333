// Live fork: turns a *running* clone's state into a fork point, a template
// directory like any other (memory, state, disk.qcow2, manifest.json), so its
// children are forked by the same code as a template's (fork.ts).
//
//   parent: suspend ─▶ migrate all RAM + devices to a stream file ─▶ copy its
//           overlay (flushed by the migration) ─▶ resume          = the pause
//   freezer: paused QEMU, RAM a new *shared* file, -incoming defer ─▶ load
//           the stream (its RAM lands in the file) ─▶ save device state with
//           x-ignore-shared (saveDeviceState, like a template build) ─▶ destroy
//
// Why a stream file and not a socketpair straight into the freezer: the
// parent's pause then does not include starting the freezer (libvirt's start
// alone is ~0.4 s here), and a full disk or a dead freezer fails after the
// parent already runs again. The stream costs one RAM-sized file for seconds.
//
// Why the parent's RAM must be re-materialised at all: a clone maps its
// template's file privately, so x-ignore-shared skips nothing of it, and
// children loading its stream would each get a full private copy. The
// freezer turns the stream into one shared file that children map privately
// again: one copy per fork point, each child pays only for what it writes.
//
// Why the disk is copied and not snapshotted (blockdev-snapshot): the parent's
// overlay holds only what the parent wrote since it was forked (a few MiB),
// a copy keeps libvirt's view of the parent's disk true and the parent's chain
// one layer long. A child's chain grows one layer per fork *generation*
// (child → fork point → … → template → image); see docs/fork.md for the bound.
//
// Only VMs forked from a template (RAM backend RAM_ID) can be forked live: a
// cold-booted VM's RAM block has another name, which no clone can load.

import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ForkdError } from '../../contracts/errors.js';
import { libvirtCall } from '../libvirt.js';
import { tapName } from '../network/names.js';
import { Taps, type TapPort } from '../network/taps.js';
import { saveDeviceState } from './device-state.js';
import { backingChain, flattenTarget, rebaseOnto } from './disk-chain.js';
import { freezeDisk } from './disk-overlay.js';
import { manifestDomainXml } from './manifest-domain.js';
import { FORK_FORMAT_VERSION } from './format.js';
import { newIdentity } from './identity.js';
import { destroyQuietly, START_PAUSED, type ForkConnection, type ForkDomain } from './ports.js';
import { giveToQemu } from './qemu-owner.js';
import { diskFullError } from './disk-full.js';
import { assertRoomForFork } from './fork-space.js';
import { domainQmp, type Qmp } from './qmp.js';
import { recordFile, TEMPLATE_FILES, writeManifest, type TemplateManifest } from './template-manifest.js';

/** A running VM as the live fork needs it. */
export interface LiveParent {
  /** Its libvirt domain (running). */
  domain: ForkDomain & { suspend(): Promise<void> };
  /** Its qcow2 overlay. */
  disk: string;
  /** The manifest of the template (or fork point) it was forked from: devices, RAM id, kernel. */
  manifest: TemplateManifest;
}

export interface CaptureOptions {
  conn: ForkConnection;
  parent: LiveParent;
  /** The fork point's directory (a template directory; must not exist). */
  dir: string;
  /** The fork point's template id (the directory's name). */
  id: string;
  /**
   * Where the RAM stream is written (a file QEMU fills with the parent's RAM
   * during the pause, deleted once the freezer loaded it): hostd's
   * `<dataDir>/fork-streams/<id>.stream`. Default: in `dir`.
   */
  streamPath?: string;
  hostId: string;
  taps?: TapPort;
  /** Copy rate for the parent's stop-and-copy (bytes/s). Default 8 GiB/s: QEMU's default of 128 MiB/s would pause a 256 MiB guest for 2 s. */
  maxBandwidth?: number;
  timeoutMs?: number;
  /** Bound on the disk chain (disk-chain.ts): fork points' directories start with `prefix`; more than `maxLayers` of them under the copy flatten it. */
  flatten?: { prefix: string; maxLayers: number };
}

export interface ForkPointTimings {
  /** Parent suspended → resumed: what the parent's user notices. */
  pauseMs: number;
  /** Of the pause: RAM and devices into the stream, and the overlay copy. */
  streamMs: number;
  diskCopyMs: number;
  /** After the pause: freezer start, stream load, device-state save. */
  freezerMs: number;
  checksumMs: number;
  totalMs: number;
}

export interface ForkPoint {
  dir: string;
  manifest: TemplateManifest;
  timings: ForkPointTimings;
  /** Bytes of the RAM stream (the parent's RAM as QEMU sent it; zero pages are nearly free). */
  streamBytes: number;
  /** The disk its disk was rebased onto when the chain passed the bound (null: the parent's chain as it was). */
  diskBase: string | null;
}

const DEFAULT_BANDWIDTH = 8 * 1024 ** 3;
const STREAM_FILE = 'ram.stream';

async function setIgnoreShared(qmp: Qmp, on: boolean): Promise<void> {
  await qmp('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: on }] });
}

async function passFd(qmp: Qmp, path: string, mode: 'r' | 'w'): Promise<string> {
  const fdname = `forkd-live-${randomBytes(4).toString('hex')}`;
  const fh = await open(path, mode, 0o600);
  try {
    await qmp('getfd', { fdname }, [fh.fd]);
  } finally {
    await fh.close();
  }
  return fdname;
}

async function waitMigration(qmp: Qmp, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pollMs = 2;
  for (;;) {
    const st = (await qmp('query-migrate')) as { status?: string; 'error-desc'?: string };
    if (st.status === 'completed') return;
    if (st.status === 'failed' || st.status === 'cancelled') {
      throw new ForkdError('ERR_LIBVIRT', `${what} ${st.status}: ${st['error-desc'] ?? 'QEMU gave no reason'}`, { detail: { migration: st } });
    }
    if (Date.now() > deadline) throw new ForkdError('ERR_TIMEOUT', `${what} did not complete within ${timeoutMs} ms (status ${st.status ?? 'none'})`);
    await new Promise((r) => setTimeout(r, pollMs));
    pollMs = Math.min(pollMs * 2, 10);
  }
}

/**
 * The parent's pause: suspend, everything into `streamPath`, copy the overlay,
 * resume. The parent is resumed whatever happens (a failed stream included);
 * only the fork fails.
 */
async function pauseAndStream(parent: LiveParent, streamPath: string, diskCopy: string, opts: { maxBandwidth: number; timeoutMs: number }) {
  const qmp = domainQmp(parent.domain);
  // Capabilities stay set in a QEMU process: a clone set x-ignore-shared for its own incoming.
  await setIgnoreShared(qmp, false);
  await qmp('migrate-set-parameters', { 'max-bandwidth': opts.maxBandwidth });
  const t0 = Date.now();
  let streamMs = 0;
  let diskCopyMs = 0;
  await libvirtCall('pausing the parent', () => parent.domain.suspend());
  try {
    const fdname = await passFd(qmp, streamPath, 'w');
    await qmp('migrate', { uri: `fd:${fdname}` });
    // QEMU writes the stream: a full disk is a failed migration whose reason is in its words (ENOSPC).
    await waitMigration(qmp, 'streaming the parent', opts.timeoutMs).catch(async (err: unknown) => { throw (await diskFullError(err, dirname(streamPath), 'the RAM stream')) ?? err; });
    streamMs = Date.now() - t0;
    // The migration flushed and inactivated the parent's images: the overlay on disk is consistent.
    const t1 = Date.now();
    await copyFile(parent.disk, diskCopy, fsConstants.COPYFILE_FICLONE).catch(async (err: unknown) => { throw (await diskFullError(err, dirname(diskCopy), 'the disk copy')) ?? err; });
    diskCopyMs = Date.now() - t1;
  } finally {
    // cont after a completed migration re-activates the images; after a failed one it simply continues.
    await libvirtCall('resuming the parent', () => parent.domain.resume());
  }
  return { pauseMs: Date.now() - t0, streamMs, diskCopyMs };
}

/** Loads the stream into a freezer QEMU whose RAM is `memory` (shared) and writes its device state to `state`. */
async function freeze(opts: CaptureOptions, paths: { memory: string; state: string; disk: string; stream: string }): Promise<void> {
  const m = opts.parent.manifest;
  const id = newIdentity({});
  // A template-build name (forkd-tmpl-…, kind 'tmpl'): a hostd killed mid-capture finds it among the build leftovers it destroys at start.
  const name = `forkd-tmpl-frz-${opts.id}`.slice(0, 64);
  const taps = opts.taps ?? Taps.host;
  const tap = m.network === null ? null : tapName(`frz:${opts.id}`);
  let domain: ForkDomain | null = null;
  let tapMade = false;
  try {
    const mem = await open(paths.memory, 'w', 0o600);
    await mem.truncate(m.memoryMib * 1024 * 1024);
    await mem.close();
    await giveToQemu(paths.memory);
    if (tap !== null) {
      await taps.create(tap);
      tapMade = true;
    }
    const xml = manifestDomainXml(m, {
      name,
      uuid: randomUUID(),
      disk: paths.disk,
      nic: m.network === null || tap === null ? null : { mac: id.mac, network: m.network, tap },
      agentSocket: join(opts.dir, 'freezer-agent.sock'),
      consoleLog: join(opts.dir, 'freezer-console.log'),
      metadata: { vm: opts.id, host: opts.hostId, kind: 'tmpl', created: new Date().toISOString(), extra: { format: String(FORK_FORMAT_VERSION) } },
      memory: { mode: 'freezer', ramId: m.ramId, memPath: paths.memory, share: true, incoming: 'defer' },
    });
    domain = await libvirtCall(`starting freezer ${name}`, () => opts.conn.createDomainXML(xml, START_PAUSED));
    const qmp = domainQmp(domain);
    // Off while receiving: the parent sent every page, none marked as shared.
    await setIgnoreShared(qmp, false);
    const fdname = await passFd(qmp, paths.stream, 'r');
    await qmp('migrate-incoming', { uri: `fd:${fdname}` });
    await waitMigration(qmp, 'loading the parent into the freezer', opts.timeoutMs ?? 120_000);
    // Now exactly a template's situation: RAM in a shared file, device state still to save.
    await saveDeviceState(qmp, paths.state, { timeoutMs: opts.timeoutMs ?? 60_000 });
  } finally {
    await destroyQuietly(domain);
    if (tapMade) await taps.remove(tap!).catch(() => undefined); // best effort: hostd's start-up sweep removes forgotten taps
    await rm(join(opts.dir, 'freezer-agent.sock'), { force: true });
  }
}

/**
 * Captures a running VM as a fork point in `opts.dir`. The parent pauses only
 * for the stream and the overlay copy. On failure the directory is gone and
 * the parent runs on.
 */
export async function captureForkPoint(opts: CaptureOptions): Promise<ForkPoint> {
  const t0 = Date.now();
  const m = opts.parent.manifest;
  if (m.formatVersion !== FORK_FORMAT_VERSION) {
    throw new ForkdError('ERR_TEMPLATE_STALE', `the VM's template ${m.id} has format ${m.formatVersion}, this forkd writes ${FORK_FORMAT_VERSION}`);
  }
  const paths = {
    memory: join(opts.dir, TEMPLATE_FILES.memory),
    state: join(opts.dir, TEMPLATE_FILES.state),
    disk: join(opts.dir, TEMPLATE_FILES.disk),
    stream: opts.streamPath ?? join(opts.dir, STREAM_FILE),
  };
  // Before anything is made or paused: a fork that cannot fit must not pause the parent.
  await assertRoomForFork({
    streamDir: opts.streamPath === undefined ? dirname(opts.dir) : dirname(opts.streamPath),
    forkPointParent: dirname(opts.dir),
    memoryBytes: m.memoryMib * 1024 * 1024,
    diskBytes: (await stat(opts.parent.disk)).size,
  });
  await mkdir(opts.dir, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new ForkdError('ERR_CONFLICT', `fork point ${opts.id} already exists`, { detail: { template: opts.id } });
    throw err;
  });
  try {
    // QEMU (not hostd) writes the stream: its user must be able to.
    await (await open(paths.stream, 'w', 0o600)).close();
    await giveToQemu(paths.stream);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const pause = await pauseAndStream(opts.parent, paths.stream, paths.disk, { maxBandwidth: opts.maxBandwidth ?? DEFAULT_BANDWIDTH, timeoutMs });
    const streamBytes = (await stat(paths.stream)).size;
    const t1 = Date.now();
    // The freezer's RAM is a shared file in the fork point: a disk that fills while it loads kills the freezer (SIGBUS).
    await freeze(opts, paths).catch(async (err: unknown) => { throw (await diskFullError(err, opts.dir, 'the fork point\'s memory file')) ?? err; });
    await rm(paths.stream, { force: true });
    // Off the pause: a chain of fork points past the bound is rebased onto the template's disk.
    const diskBase = opts.flatten ? flattenTarget(await backingChain(paths.disk), opts.flatten.prefix, opts.flatten.maxLayers) : null;
    if (diskBase !== null) await rebaseOnto(paths.disk, diskBase).catch(async (err: unknown) => { throw (await diskFullError(err, opts.dir, 'the flattened disk')) ?? err; });
    await freezeDisk(paths.disk);
    const freezerMs = Date.now() - t1;
    const t2 = Date.now();
    const [memory, state, disk] = await Promise.all([recordFile(paths.memory), recordFile(paths.state), recordFile(paths.disk)]);
    const manifest: TemplateManifest = { ...m, id: opts.id, createdAt: new Date().toISOString(), files: { memory, state, disk } };
    await writeManifest(opts.dir, manifest);
    const checksumMs = Date.now() - t2;
    return { dir: opts.dir, manifest, streamBytes, diskBase, timings: { ...pause, freezerMs, checksumMs, totalMs: Date.now() - t0 } };
  } catch (err) {
    await rm(opts.dir, { recursive: true, force: true }).catch(() => undefined); // the error being thrown is the one to report
    await rm(paths.stream, { force: true }).catch(() => undefined); // likewise; hostd's start empties the stream directory
    throw err;
  }
}
