// The fork: one module that combines the pieces (disk overlay, memory
// mapping, device state, identity) under one format version (format.ts).
//
//   verify template ─▶ overlay ─▶ domain start (paused, -incoming defer)   = a clone *shell*
//   ─▶ incoming (device state) ─▶ resume ─▶ agent ready                   = resumeClone
//   ─▶ identity.set                                                        = identifyClone
//   (finishClone = resumeClone + identifyClone)
//
// The warm pool starts shells ahead of time and finishes them on demand (or,
// in its 'ready' mode, resumes them ahead too and only identifies them on
// demand); forkFromTemplate does everything in one go.
//
// Clones are *transient* libvirt domains (virDomainCreateXML): nothing is
// defined, so destroying one, or QEMU dying, leaves no libvirt config behind,
// and a crashed hostd finds its clones by name prefix and <metadata> among
// running domains. A clone is never restarted in place (its RAM is a private
// copy of the template's and gone with the process), so a persistent
// definition would only be something more to undefine.

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { identityParams } from '../vm/guest-identity.js';
import type { Params, Result } from '../../contracts/agent-protocol/messages.js';
import { ForkdError } from '../../contracts/errors.js';
import { libvirtCall } from '../libvirt.js';
import type { NetworkSpec } from '../vm/domain-xml.js';
import { manifestDomainXml } from './manifest-domain.js';
import { tapName } from '../network/names.js';
import { Taps, type TapPort } from '../network/taps.js';
import { loadDeviceState } from './device-state.js';
import { createOverlay } from './disk-overlay.js';
import { FORK_FORMAT_VERSION } from './format.js';
import { newIdentity, type CloneIdentity } from './identity.js';
import { destroyQuietly, START_PAUSED, type ForkAgent, type ForkConnection, type ForkDomain } from './ports.js';
import { domainQmp } from './qmp.js';
import {
  assertTemplateCompatible,
  readManifest,
  TEMPLATE_FILES,
  verifyTemplateFiles,
  type HostInfo,
  type TemplateManifest,
  type VerifyMode,
} from './template-manifest.js';

export { FORK_FORMAT_VERSION };

/** A template whose manifest was read, found compatible and whose files were checked. */
export interface Template {
  dir: string;
  manifest: TemplateManifest;
}

/**
 * Reads and checks a template before anything is started from it:
 * ERR_TEMPLATE_CORRUPT (manifest or files), ERR_TEMPLATE_STALE (host changed).
 */
export async function openTemplate(dir: string, host: HostInfo, mode: VerifyMode = 'fast'): Promise<Template> {
  const manifest = await readManifest(dir);
  assertTemplateCompatible(manifest, host);
  await verifyTemplateFiles(dir, manifest, mode);
  return { dir, manifest };
}

export function templatePaths(t: Template): { memory: string; state: string; disk: string } {
  return {
    memory: join(t.dir, TEMPLATE_FILES.memory),
    state: join(t.dir, TEMPLATE_FILES.state),
    disk: join(t.dir, TEMPLATE_FILES.disk),
  };
}

export interface ShellOptions {
  conn: ForkConnection;
  template: Template;
  /** Per-VM directories live here: `<runDir>/<id>/{disk.qcow2,agent.sock,console.log}`. */
  runDir: string;
  hostId: string;
  /** forkd's VM id (generated when absent). */
  id?: string;
  hostname?: string;
  /** MACs already in use; the clone's avoids them. */
  takenMacs?: ReadonlySet<string>;
  /** Host side of the clone's NIC; defaults to the template's. The device itself always matches the template. */
  network?: NetworkSpec;
  /** Makes and removes the clone's tap (default: the host's). The tap starts detached; a take attaches it. */
  taps?: TapPort;
  /** Domain-name prefix; tests use `forkd-test-<suite>-`, hostd's warm pool `forkd-pool-`. */
  namePrefix?: string;
  /** Metadata kind: 'pool' for warm-pool shells, which have no VM identity yet (hostd destroys them after a restart). Default 'vm'. */
  kind?: 'vm' | 'pool';
}

/** A started QEMU waiting in `-incoming defer`: everything of a clone but its state. */
export interface CloneShell {
  identity: CloneIdentity;
  template: Template;
  /** Host side of the clone's NIC (its template's device; null: no NIC). */
  network: NetworkSpec | null;
  /** The clone's tap (null: no NIC); detached until someone attaches it to a tenant network. */
  tap: string | null;
  /** Removes the tap (after the domain is gone). */
  releaseTap: () => Promise<void>;
  domain: ForkDomain;
  dir: string;
  disk: string;
  agentSocket: string;
  consoleLog: string;
  timings: { overlayMs: number; domainStartMs: number };
  /**
   * The template's device state is in already (loadShellState: a pool shell,
   * still paused): a take only resumes it. `stateMs` is what loading took.
   */
  stateLoaded?: { stateMs: number };
}

/**
 * A shell's device state loaded ahead of time (the warm pool's shell mode):
 * the clone stays paused, costs no CPU, and still has no identity; a take
 * skips the load. Under load beside another VM's teardown the load took
 * 1.1–1.4 s instead of ~20 ms on a take's path (docs/benchmarks.md). On
 * failure the shell is destroyed.
 */
export async function loadShellState(shell: CloneShell, opts: { incomingTimeoutMs?: number } = {}): Promise<CloneShell> {
  try {
    const t0 = Date.now();
    await loadDeviceState(domainQmp(shell.domain), templatePaths(shell.template).state, { timeoutMs: opts.incomingTimeoutMs ?? 60_000 });
    return { ...shell, stateLoaded: { stateMs: Date.now() - t0 } };
  } catch (err) {
    await discardShell(shell);
    throw err;
  }
}

export interface ForkTimings {
  verifyMs: number;
  overlayMs: number;
  domainStartMs: number;
  incomingMs: number;
  resumeMs: number;
  agentReadyMs: number;
  identityMs: number;
  totalMs: number;
}

export interface ForkedVm<A extends ForkAgent = ForkAgent> {
  identity: CloneIdentity;
  /** Host side of the clone's NIC (null: none); the guest has `identity.mac` once identity.set gave it. */
  network: NetworkSpec | null;
  /** The clone's tap (null: no NIC). */
  tap: string | null;
  domain: ForkDomain;
  dir: string;
  disk: string;
  agentSocket: string;
  consoleLog: string;
  /** Connected agent (null when the fork was made without one). */
  agent: A | null;
  /** What the agent's identity.set reported (null without an agent). */
  identityResult: Result<'identity.set'> | null;
  timings: ForkTimings;
  /** Destroys the domain and removes the clone's files. */
  destroy(): Promise<void>;
}

async function removeVmFiles(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

/** Overlay + clone domain started paused in `-incoming defer`. Cleans up after itself on failure. */
export async function startCloneShell(opts: ShellOptions): Promise<CloneShell> {
  const { template } = opts;
  const m = template.manifest;
  const identity0 = newIdentity({
    ...(opts.id === undefined ? {} : { id: opts.id }),
    ...(opts.hostname === undefined ? {} : { hostname: opts.hostname }),
    ...(opts.takenMacs === undefined ? {} : { takenMacs: opts.takenMacs }),
  });
  const identity = opts.namePrefix ? { ...identity0, name: `${opts.namePrefix}${identity0.id}` } : identity0;
  const dir = join(opts.runDir, identity.id);
  const disk = join(dir, 'disk.qcow2');
  const agentSocket = join(dir, 'agent.sock');
  const consoleLog = join(dir, 'console.log');
  const tp = templatePaths(template);

  let domain: ForkDomain | null = null;
  const network = opts.network ?? m.network;
  const tap = network === null ? null : tapName(identity.id);
  const taps = opts.taps ?? Taps.host;
  const releaseTap = async (): Promise<void> => {
    if (tap !== null) await taps.remove(tap);
  };
  let tapMade = false;
  try {
    await mkdir(dir, { recursive: false, mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new ForkdError('ERR_CONFLICT', `VM directory ${dir} already exists`, { detail: { vm: identity.id } });
      throw err;
    });
    const t0 = Date.now();
    await createOverlay(tp.disk, disk);
    const overlayMs = Date.now() - t0;

    if (tap !== null) {
      await taps.create(tap);
      tapMade = true;
    }
    const xml = manifestDomainXml(m, {
      name: identity.name,
      uuid: identity.uuid,
      genid: identity.genid,
      disk,
      nic: network === null || tap === null ? null : { mac: identity.mac, network, tap },
      agentSocket,
      consoleLog,
      metadata: {
        vm: identity.id,
        host: opts.hostId,
        kind: opts.kind ?? 'vm',
        created: new Date().toISOString(),
        extra: { template: m.id, format: String(FORK_FORMAT_VERSION) },
      },
      memory: { mode: 'clone', ramId: m.ramId, memPath: tp.memory, share: false, incoming: 'defer' },
    });
    const t1 = Date.now();
    // Paused: libvirt sends no `cont`, so the clone runs only once resumed after its state is in.
    domain = await libvirtCall(`starting clone ${identity.name}`, () => opts.conn.createDomainXML(xml, START_PAUSED));
    const domainStartMs = Date.now() - t1;
    return { identity, template, network, tap, releaseTap, domain, dir, disk, agentSocket, consoleLog, timings: { overlayMs, domainStartMs } };
  } catch (err) {
    await destroyQuietly(domain);
    await removeVmFiles(dir);
    if (tapMade) await releaseTap().catch(() => undefined); // best effort: hostd's start-up sweep removes forgotten taps
    throw err;
  }
}

/** Destroys a shell that will not be used. */
export async function discardShell(shell: CloneShell): Promise<void> {
  await destroyQuietly(shell.domain);
  await removeVmFiles(shell.dir);
  await shell.releaseTap().catch(() => undefined); // best effort: hostd's start-up sweep removes forgotten taps
}

/** The part of joining a tenant network that a fork does itself (hostd's ForkJoin is one). */
export interface GuestJoin {
  /** identity.set's `network`: the clone's address, route and resolvers. */
  readonly network: NonNullable<Params<'identity.set'>['network']>;
  /** identity.set's `hosts`: the peers' names (as network.hosts takes them). */
  readonly hosts?: Params<'identity.set'>['hosts'];
  /**
   * Puts the clone's tap on the network. Runs beside identity.set when the
   * clone's own MAC was set ahead (ready pool), else after it: either way no
   * frame with the template's MAC reaches the bridge.
   */
  readonly attachTap?: (tap: string) => Promise<unknown>;
}

export interface FinishOptions<A extends ForkAgent> {
  /** Connects to the clone's agent; without it the clone gets no identity.set (tests of the bare fork only). */
  agent?: (socketPath: string) => A;
  /** The clone's tenant network, joined as part of the fork (GuestJoin). */
  join?: GuestJoin;
  agentTimeoutMs?: number;
  incomingTimeoutMs?: number;
  /**
   * 'await' (default): the clock is set before the fork returns. 'background':
   * the rest of the identity is awaited, the clock follows in a second call the
   * fork does not wait for. The agent sets whole seconds and waits for the next
   * one (~0.5 s on average), so this trades a briefly wrong clock for latency.
   */
  clock?: 'await' | 'background';
  /** Told about a background clock update that failed. */
  onClockError?: (err: unknown) => void;
}

/**
 * A clone with its state in, resumed and (with an agent) its agent answered,
 * but no identity yet: it still has its template's hostname, machine-id, guest
 * MAC and RNG state, so it must never be handed to anyone before identifyClone.
 * The warm pool's 'ready' mode keeps clones idle in this state.
 */
export interface ResumedClone<A extends ForkAgent = ForkAgent> {
  shell: CloneShell;
  agent: A | null;
  timings: { incomingMs: number; resumeMs: number; agentReadyMs: number };
  /**
   * What identifyAhead already applied (machine-id, MAC, entropy: nothing a
   * request chooses): identifyClone then sends only the hostname, the clock
   * and the network. Absent: the clone still has its template's identity.
   */
  ahead?: Result<'identity.set'>;
}

/**
 * The ready pool's part of identity.set, done while the clone idles: the
 * machine-id, the MAC and a reseed of the RNG are the clone's own whoever
 * takes it, so a take does not wait for them. The clone is still not handed
 * out before identifyClone (its hostname and clock are still the template's).
 * On failure the clone is destroyed.
 */
export async function identifyAhead<A extends ForkAgent>(resumed: ResumedClone<A>): Promise<ResumedClone<A>> {
  if (!resumed.agent) return resumed;
  const id = resumed.shell.identity;
  try {
    const { hostname: _h, ...ahead } = identityParams({
      hostname: id.hostname, machineId: id.machineId, mac: resumed.shell.network === null ? null : id.mac,
      nic: resumed.shell.network, entropy: id.entropy, clock: false,
    });
    return { ...resumed, ahead: await resumed.agent.call('identity.set', ahead) };
  } catch (err) {
    await discardResumed(resumed);
    throw err;
  }
}

/**
 * The ready pool's rehearsal, after identifyAhead: one throwaway container run
 * and removed in the idle clone (agent `container.rehearse`, over the
 * template's image when it has one), so a take's container start finds crun's
 * and the kernel's code already translated (TCG starts every clone with an
 * empty code cache). A failed rehearsal costs only speed: the clone is kept
 * and the failure reported to `onError`.
 */
export async function rehearseAhead<A extends ForkAgent>(resumed: ResumedClone<A>, image: string | null, onError?: (err: unknown) => void): Promise<ResumedClone<A>> {
  if (!resumed.agent) return resumed;
  try {
    await resumed.agent.call('container.rehearse', image === null ? {} : { image });
  } catch (err) {
    onError?.(err);
  }
  return resumed;
}

/**
 * The ready pool's last step, after the rehearsal: the idle clone sets up a
 * container over the template's image ahead (agent `container.hold`), its
 * process forkd's launcher waiting for a command, so a take's container start
 * hands the command over instead of running crun (docs/fork.md). A guest that
 * cannot hold one says why and the clone stays ready: it only costs speed,
 * reported to `onError`.
 */
export async function holdAhead<A extends ForkAgent>(resumed: ResumedClone<A>, image: string, onError?: (err: unknown) => void): Promise<ResumedClone<A>> {
  if (!resumed.agent) return resumed;
  try {
    const r = await resumed.agent.call('container.hold', { image });
    if (!r.held) onError?.(new Error(r.reason ?? 'the guest held no container'));
  } catch (err) {
    onError?.(err);
  }
  return resumed;
}

/** Loads the template's state into a shell, resumes it and waits for its agent. On failure the shell is destroyed. */
export async function resumeClone<A extends ForkAgent>(shell: CloneShell, opts: FinishOptions<A> = {}): Promise<ResumedClone<A>> {
  let agent: A | null = null;
  try {
    const t0 = Date.now();
    if (!shell.stateLoaded) await loadDeviceState(domainQmp(shell.domain), templatePaths(shell.template).state, { timeoutMs: opts.incomingTimeoutMs ?? 60_000 });
    const t1 = Date.now();
    await libvirtCall(`resuming clone ${shell.identity.name}`, () => shell.domain.resume());
    const t2 = Date.now();
    let agentReadyMs = 0;
    if (opts.agent) {
      agent = opts.agent(shell.agentSocket);
      await agent.waitReady({ timeoutMs: opts.agentTimeoutMs ?? 30_000 });
      agentReadyMs = Date.now() - t2;
    }
    return { shell, agent, timings: { incomingMs: t1 - t0, resumeMs: t2 - t1, agentReadyMs } };
  } catch (err) {
    agent?.close();
    await discardShell(shell);
    throw err;
  }
}

/** Destroys a resumed clone that will not be used (closes its agent). */
export async function discardResumed(r: ResumedClone): Promise<void> {
  r.agent?.close();
  await discardShell(r.shell);
}

/** Gives a resumed clone its identity (identity.set through its agent, when it has one). On failure the clone is destroyed. */
export async function identifyClone<A extends ForkAgent>(resumed: ResumedClone<A>, opts: FinishOptions<A> = {}): Promise<ForkedVm<A>> {
  const { shell, agent } = resumed;
  let attaching: Promise<unknown> | null = null;
  try {
    let identityMs = 0;
    let identityResult: Result<'identity.set'> | null = null;
    if (agent) {
      const t3 = Date.now();
      const id = shell.identity;
      const background = opts.clock === 'background';
      const full = identityParams({
        hostname: id.hostname,
        machineId: id.machineId,
        // virtio-net comes back with the template's MAC from the device state: the guest sets the clone's.
        mac: shell.network === null ? null : id.mac,
        nic: shell.network,
        entropy: id.entropy,
        clock: !background,
      });
      // Prepared ahead (ready pool): only what depends on the take or on the time is left.
      const params = resumed.ahead
        ? { hostname: full.hostname, ...(full.clockEpochMs === undefined ? {} : { clockEpochMs: full.clockEpochMs }) }
        : full;
      // Ready pool: the MAC is the clone's own already, so its tap may reach the bridge while identity.set runs.
      const attachTap = opts.join?.attachTap;
      attaching = attachTap && shell.tap !== null && resumed.ahead?.applied.includes('mac') === true ? attachTap(shell.tap) : null;
      attaching?.catch(() => undefined); // awaited below, or before the clone is destroyed
      const now = await agent.call('identity.set', {
        ...params,
        ...(opts.join ? { network: opts.join.network } : {}),
        ...(opts.join?.hosts === undefined ? {} : { hosts: opts.join.hosts }),
      });
      await attaching;
      identityResult = resumed.ahead
        ? { applied: [...resumed.ahead.applied, ...now.applied], warnings: [...resumed.ahead.warnings, ...now.warnings] }
        : now;
      identityMs = Date.now() - t3;
      if (background) {
        agent.call('identity.set', { clockEpochMs: Date.now() }).catch((err: unknown) => opts.onClockError?.(err));
      }
    }
    // Otherwise after the guest has its own MAC (identity.set), before the fork returns.
    if (attaching === null && opts.join?.attachTap && shell.tap !== null) await opts.join.attachTap(shell.tap);
    const timings: ForkTimings = {
      verifyMs: 0,
      overlayMs: shell.timings.overlayMs,
      domainStartMs: shell.timings.domainStartMs,
      ...resumed.timings,
      identityMs,
      totalMs: 0,
    };
    timings.totalMs = timings.incomingMs + timings.resumeMs + timings.agentReadyMs + identityMs;
    return {
      identity: shell.identity,
      network: shell.network,
      tap: shell.tap,
      domain: shell.domain,
      dir: shell.dir,
      disk: shell.disk,
      agentSocket: shell.agentSocket,
      consoleLog: shell.consoleLog,
      agent,
      identityResult,
      timings,
      destroy: async () => {
        agent?.close();
        await discardShell(shell);
      },
    };
  } catch (err) {
    await attaching?.catch(() => undefined);
    await discardResumed(resumed);
    throw err;
  }
}

/** Loads the template's state into a shell, resumes it and gives it its identity. On failure the shell is destroyed. */
export async function finishClone<A extends ForkAgent>(shell: CloneShell, opts: FinishOptions<A> = {}): Promise<ForkedVm<A>> {
  return identifyClone(await resumeClone(shell, opts), opts);
}

export interface ForkOptions<A extends ForkAgent> extends Omit<ShellOptions, 'template'>, FinishOptions<A> {
  /** A template directory, or one already opened (then only re-verified when `verify` says so). */
  template: string | Template;
  /** Needed when `template` is a directory. */
  host?: HostInfo;
  /** File check before anything starts (default 'fast'; 'none' for a template opened moments ago). */
  verify?: VerifyMode | 'none';
}

/** Forks one clone from a template: nothing is left behind when it fails. */
export async function forkFromTemplate<A extends ForkAgent>(opts: ForkOptions<A>): Promise<ForkedVm<A>> {
  const t0 = Date.now();
  const verify = opts.verify ?? 'fast';
  let template: Template;
  if (typeof opts.template === 'string') {
    if (!opts.host) throw new ForkdError('ERR_INTERNAL', 'forkFromTemplate: host info is needed to open a template directory');
    template = verify === 'none' ? { dir: opts.template, manifest: await readManifest(opts.template) } : await openTemplate(opts.template, opts.host, verify);
  } else {
    template = opts.template;
    if (opts.host) assertTemplateCompatible(template.manifest, opts.host);
    if (verify !== 'none') await verifyTemplateFiles(template.dir, template.manifest, verify);
  }
  const verifyMs = Date.now() - t0;
  const shell = await startCloneShell({ ...opts, template });
  const vm = await finishClone(shell, opts);
  vm.timings.verifyMs = verifyMs;
  vm.timings.totalMs = Date.now() - t0;
  return vm;
}
