// Container lifecycle on the guest: created → running → exited, transitions
// checked in one place, records persisted as <root>/containers/<id>/state.json.
// crun runs in the foreground (`crun run`) as the agent's child, so the agent
// gets the exit status, and the container's stdout/stderr come through pipes
// into the log file.

import type { ChildLike } from './posix-spawn.js';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError, type ContainerStatus, type ContainerSummary, type Params, type Result } from '../contracts/agent-protocol/index.js';
import type { Cgroups } from './cgroups.js';
import { statePaths, type AgentConfig } from './config.js';
import { crunError, readPid, waitForPid, type Crun } from './crun.js';
import type { Log } from './handler.js';
import { hostsFile } from './identity.js';
import { PeerHosts, rewriteInPlace, type PeerEntries } from './peers.js';
import type { ImageRecord, ImageStore } from './images.js';
import { LogWriter } from './logs.js';
import { ContainerIo } from './container-io.js';
import { mergeEnv, ociSpec, resolveArgs, resolveUser, withTerm, type OciUser } from './oci-spec.js';
import { ConsoleSocket, type Terminal } from './terminal.js';
import { consoleSocketPath } from './console-path.js';
import { mountRootfs, unmountRootfs } from './rootfs.js';
import { mountVolumes, syncVolumes } from './volumes.js';
import { assertFitsBeside, readMemTotalMib } from './pod-fit.js';
import { handOver, heldSpecPaths, launchMessage, LAUNCH_MESSAGE_MAX_BYTES, sameButHandedOver, type Handover, type HeldContainer, HeldContainers } from './held.js';
import { sysCalls } from './sys-calls.js';

export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  layers: string[];
  status: ContainerStatus;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  oomKilled: boolean;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** What the container's processes run with (exec inherits env, cwd, user). */
  env: string[];
  cwd: string;
  user: OciUser;
  /** crun's message when a start failed. */
  error: string | null;
  /** Guest directories of the volumes bound into it (synced when it exits). */
  volumes?: string[];
  /** The main process has a terminal (records of older agents lack these: false). */
  tty?: boolean;
  /** The main process's stdin stays open for attached clients. */
  openStdin?: boolean;
  /** Its cgroup limits, for the check of the next container beside it (pod-fit.ts); older records lack them. */
  limits?: { memoryMib?: number };
  /** Its crun id and cgroup name when not its id: a container that took a held one keeps that one's (held.ts). */
  runtimeId?: string;
}

/** The crun id and cgroup name of a container. */
export function runtimeIdOf(r: Pick<ContainerRecord, 'id' | 'runtimeId'>): string {
  return r.runtimeId ?? r.id;
}

const TRANSITIONS: Record<ContainerStatus, readonly ContainerStatus[]> = {
  created: ['running', 'exited'],
  running: ['exited'],
  exited: [],
};

export function transition(rec: ContainerRecord, to: ContainerStatus): void {
  if (!TRANSITIONS[rec.status].includes(to)) throw new AgentError('ERR_CONFLICT', `container ${rec.id} is ${rec.status}, cannot become ${to}`);
  rec.status = to;
}

export function summary(r: ContainerRecord): ContainerSummary {
  return {
    id: r.id,
    name: r.name,
    image: r.image,
    status: r.status,
    pid: r.pid,
    exitCode: r.exitCode,
    oomKilled: r.oomKilled,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

/** A hostname from the container's name or id (ids may hold `_` and `.`). */
export function hostnameFor(name: string | undefined, id: string): string {
  if (name) return name;
  const h = id.replace(/[^A-Za-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return h || 'container';
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Live {
  child: ChildLike;
  log: LogWriter;
  io: ContainerIo;
  exited: Promise<void>;
}

export class Containers {
  private readonly dir: string;
  private readonly records = new Map<string, ContainerRecord>();
  private readonly live = new Map<string, Live>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Containers created from a held one and not started yet: what start hands over. */
  private readonly handovers = new Map<string, { held: HeldContainer } & Handover>();
  /** The container held ahead in a ready-pool clone (container.hold). */
  readonly held: HeldContainers;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly store: ImageStore,
    private readonly cgroups: Cgroups,
    readonly crun: Crun,
    private readonly log: Log,
  ) {
    this.dir = statePaths(cfg.root).containers;
    this.held = new HeldContainers({ cfg, images: store, cgroups, crun, log });
  }

  /** The crun id and cgroup name of container `id` (its id, or the held container's it took). */
  runtimeId(id: string): string {
    return runtimeIdOf(this.records.get(id) ?? { id });
  }

  containerDir(id: string): string {
    return join(this.dir, id);
  }

  /** Loads records; containers that were running under an earlier agent are watched until they stop. */
  async init(): Promise<void> {
    await this.held.init();
    await mkdir(this.dir, { recursive: true });
    for (const id of await readdir(this.dir)) {
      const rec = await readFile(join(this.dir, id, 'state.json'), 'utf8').then((t) => JSON.parse(t) as ContainerRecord, () => null);
      if (!rec) continue;
      this.records.set(id, rec);
      if (rec.status === 'running') void this.watchOrphan(rec);
    }
  }

  /** Layers any container still uses (image removal keeps them). */
  layersInUse(): Set<string> {
    const s = new Set<string>(this.held.layersInUse());
    for (const r of this.records.values()) for (const l of r.layers) s.add(l);
    return s;
  }

  get(id: string): ContainerRecord {
    const r = this.records.get(id);
    if (!r) throw new AgentError('ERR_NOT_FOUND', `no container ${id}`);
    return r;
  }

  /** The VM's peers on its tenant network (network.hosts), appended to every container's hosts file. */
  readonly peers = new PeerHosts();

  /**
   * After a fork (identity.set {hostname}): every running container whose
   * hostname followed the VM's (`from`, the name it had before: a container in
   * its own VM is named after it) takes the new one, `to`: its UTS namespace
   * (through `setUts`, which enters the container's init's namespace), the
   * source files of its read-only /etc/hostname and /etc/hosts bind mounts
   * (rewritten in place: a bind mount holds the inode, a rename would not
   * show), the HOSTNAME its execs inherit, and its record. Containers with a
   * name of their own (pod members: their name is an address on the network)
   * keep it. Returns the ids renamed, and why any could not be.
   */
  async followHostname(from: string, to: string, setUts: ((pid: number, hostname: string) => Promise<void>) | null): Promise<{ renamed: string[]; warnings: string[] }> {
    const renamed: string[] = [];
    const warnings: string[] = [];
    if (from === to) return { renamed, warnings };
    for (const r of this.records.values()) {
      if (r.status !== 'running' || r.name !== from) continue;
      const dir = this.containerDir(r.id);
      try {
        if (setUts && r.pid !== null) await setUts(r.pid, to);
        await rewriteInPlace(join(dir, 'hostname'), `${to}\n`);
        await rewriteInPlace(join(dir, 'hosts'), hostsFile(to) + this.peers.current);
        r.name = to;
        r.env = r.env.map((e) => (e === `HOSTNAME=${from}` ? `HOSTNAME=${to}` : e));
        await this.persist(r);
        renamed.push(r.id);
      } catch (e) {
        warnings.push(`hostname of container ${r.id}: ${(e as Error).message}`);
      }
    }
    return { renamed, warnings };
  }

  /** New peer list: every container's /etc/hosts is rewritten in place. Returns how many files were written. */
  async updatePeers(entries: PeerEntries): Promise<number> {
    this.peers.set(entries);
    let written = 0;
    for (const r of this.records.values()) {
      const path = join(this.containerDir(r.id), 'hosts');
      // A container being deleted may have lost its directory: nothing to update there.
      if (await rewriteInPlace(path, hostsFile(r.name) + this.peers.current).then(() => true, () => false)) written++;
    }
    return written;
  }

  list(): ContainerSummary[] {
    return [...this.records.values()].sort((a, b) => a.createdAt - b.createdAt).map(summary);
  }

  create(p: Params<'container.create'>): Promise<Result<'container.create'>> {
    return this.locked(p.id, async () => {
      if (this.records.has(p.id)) throw new AgentError('ERR_CONFLICT', `container ${p.id} exists`);
      const image = await this.store.image(p.image);
      if (!image) throw new AgentError('ERR_NOT_FOUND', `image ${p.image} is not in the guest`);
      const live = [...this.records.values()].filter((r) => r.status !== 'exited').map((r) => r.limits ?? {});
      assertFitsBeside(live, { memoryMib: p.limits?.memoryMib }, await readMemTotalMib());
      const args = resolveArgs(image.config, p.command, p.args);
      if (args.length === 0) throw new AgentError('ERR_INVALID_PARAMS', 'no command: the image has no Entrypoint/Cmd and none was given', { field: 'command' });
      const taken = await this.takeHeld(p, image, args);
      if (taken) return taken;
      const dir = this.containerDir(p.id);
      const hostname = hostnameFor(p.name, p.id);
      await rm(dir, { recursive: true, force: true });
      for (const d of ['rootfs', 'upper', 'work']) await mkdir(join(dir, d), { recursive: true });
      try {
        const rootfs = await mountRootfs(this.store, image.layers, dir, this.cfg.system);
        const passwd = await readFile(join(rootfs, 'etc/passwd'), 'utf8').catch(() => '');
        const group = await readFile(join(rootfs, 'etc/group'), 'utf8').catch(() => '');
        const userSpec = p.user ?? image.config.User;
        const user = resolveUser(userSpec, passwd, group);
        if (!user) throw new AgentError('ERR_CONTAINER_START', `unable to find user ${userSpec} in the image`);
        const cwd = p.workingDir ?? (image.config.WorkingDir || '/');
        const tty = p.tty === true;
        const env = tty ? withTerm(mergeEnv(image.config.Env, p.env, hostname)) : mergeEnv(image.config.Env, p.env, hostname);
        await writeFile(join(dir, 'hosts'), hostsFile(hostname) + this.peers.current);
        await writeFile(join(dir, 'hostname'), `${hostname}\n`);
        const resolv = join(dir, 'resolv.conf');
        await copyFile(join(this.cfg.etc, 'resolv.conf'), resolv).catch(() => writeFile(resolv, ''));
        const volumes = p.volumes?.length ? await mountVolumes({ sysBlock: this.cfg.sysBlock, mountRoot: join(this.cfg.root, 'volumes') }, p.volumes) : [];
        const spec = ociSpec({
          volumes,
          args,
          env,
          cwd,
          user,
          hostname,
          rootfs,
          cgroupsPath: this.cgroups.cgroupsPath(p.id),
          limits: p.limits,
          terminal: tty ? { rows: p.rows, cols: p.cols } : undefined,
          etcFiles: { hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname'), resolvConf: resolv },
        });
        await writeFile(join(dir, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
        const rec = newRecord(p, hostname, image.layers, { env, cwd, user, tty, volumes: volumes.map((v) => v.source) });
        this.records.set(p.id, rec);
        await this.persist(rec);
        return { id: p.id, bundle: dir };
      } catch (e) {
        await unmountRootfs(dir).catch(() => undefined);
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
        throw e;
      }
    });
  }

  start(id: string, signal: AbortSignal): Promise<Result<'container.start'>> {
    return this.locked(id, async () => {
      const rec = this.get(id);
      if (rec.status !== 'created') throw new AgentError('ERR_CONFLICT', `container ${id} is ${rec.status}`);
      const handover = this.handovers.get(id);
      if (handover) return this.startHeld(rec, handover);
      const rid = runtimeIdOf(rec);
      const dir = this.containerDir(id);
      const crunLog = join(dir, 'crun.log');
      const pidFile = join(dir, 'pid');
      await this.cgroups.prepare(rid);
      await this.crun.deleteLeftover(rid, crunLog); // leftovers of an earlier failed start
      const consoleSock = rec.tty ? await ConsoleSocket.listen(consoleSocketPath(this.cfg.root, id)) : null;
      const child = await this.crun.run(rid, dir, crunLog, pidFile, { stdin: rec.openStdin === true, ...(consoleSock ? { consoleSocket: consoleSock.path } : {}) });
      const log = new LogWriter(join(dir, 'log'));
      let terminal: Terminal | null = null;
      let io: ContainerIo | null = null;
      const early: Array<[ 'stdout' | 'stderr', Buffer ]> = [];
      const emit = (s: 'stdout' | 'stderr', c: Buffer) => (io ? io.emit(s, c) : early.push([s, c]));
      // crun's own pipes: the process's output without a terminal; with one, only crun's (rare) words.
      child.stdout!.on('data', (c: Buffer) => emit('stdout', c));
      child.stderr!.on('data', (c: Buffer) => emit('stderr', c));
      const exit = new Promise<Exit & { spawnError?: Error }>((resolve) => {
        child.once('error', (e) => resolve({ code: null, signal: null, spawnError: e }));
        child.once('close', (code, sig) => resolve({ code, signal: sig }));
      });
      let crunDone = false;
      void exit.then(() => (crunDone = true));
      const started = await Promise.race([exit.then((x) => ({ exit: x })), waitForPid(pidFile, signal, () => crunDone).then((pid) => ({ pid }))]);
      if (consoleSock) {
        // crun sends the terminal before the process starts; a crun that failed sends none.
        terminal = await Promise.race([consoleSock.received, exit.then(() => null)]).catch(() => null);
        await consoleSock.close();
      }
      io = new ContainerIo(log, rec.openStdin && !rec.tty ? child.stdin : null, terminal);
      for (const [st, c] of early.splice(0)) io.emit(st, c);
      const terminalDone = terminal ? pumpTerminal(terminal, io) : Promise.resolve();
      if ('exit' in started) {
        const crunMsg = started.exit.spawnError ? `cannot run ${this.cfg.crun}: ${started.exit.spawnError.message}` : await crunError(crunLog);
        if (crunMsg !== null || (await readPid(pidFile)) === null) {
          terminal?.close();
          io.end();
          log.close();
          rec.error = crunMsg ?? `crun exited with ${started.exit.code ?? started.exit.signal} before the container started`;
          await this.persist(rec);
          await this.cgroups.remove(rid);
          throw new AgentError('ERR_CONTAINER_START', rec.error, { exitCode: started.exit.code });
        }
      }
      const pid = 'pid' in started ? started.pid : ((await readPid(pidFile)) ?? child.pid ?? 1);
      transition(rec, 'running');
      rec.pid = pid;
      rec.startedAt = Date.now();
      rec.error = null;
      await this.persist(rec);
      if (rec.tty && !terminal) {
        await this.crun.kill(rid, 'SIGKILL', join(dir, 'crun-kill.log'));
        throw new AgentError('ERR_CONTAINER_START', 'crun did not hand over the container\'s terminal');
      }
      const liveIo = io;
      const exited = exit.then(async (x) => {
        // The terminal's last output may trail the exit; a background process holding it open is not waited for long.
        await Promise.race([terminalDone, sleep(2000)]);
        terminal?.close();
        liveIo.end();
        await this.finish(rec, x, log, crunLog);
      });
      this.live.set(id, { child, log, io: liveIo, exited });
      // A container that already exited is recorded before start replies.
      if ('exit' in started) await exited;
      return { id, pid, container: summary(rec) };
    });
  }

  /**
   * container.create from the container held ahead (held.ts) when it is of
   * this image and the request's spec, over its paths, matches it but for
   * what is handed over. Null: the create goes on as always (a hold that
   * does not fit is given up).
   */
  private async takeHeld(p: Params<'container.create'>, image: ImageRecord, args: string[]): Promise<Result<'container.create'> | null> {
    const held = this.held.take(p.image);
    if (!held) return null;
    const giveUp = (why: string): null => {
      void this.held.giveUp(held, why);
      return null;
    };
    if (p.tty === true || p.openStdin === true || (p.volumes?.length ?? 0) > 0) return giveUp('a terminal, stdin or volumes');
    if (held.gone) return giveUp('its launcher is gone');
    const hostname = hostnameFor(p.name, p.id);
    const heldPaths = heldSpecPaths(held.dir, this.cgroups.cgroupsPath(held.runtimeId));
    const passwd = await readFile(join(heldPaths.rootfs, 'etc/passwd'), 'utf8').catch(() => '');
    const group = await readFile(join(heldPaths.rootfs, 'etc/group'), 'utf8').catch(() => '');
    const user = resolveUser(p.user ?? image.config.User, passwd, group);
    if (!user) return giveUp('an unknown user'); // the create as always says why
    const cwd = p.workingDir ?? (image.config.WorkingDir || '/');
    const env = mergeEnv(image.config.Env, p.env, hostname);
    const input = { volumes: [], args, env, cwd, user, hostname, limits: p.limits, terminal: undefined };
    if (!sameButHandedOver(held.spec, ociSpec({ ...input, ...heldPaths }))) return giveUp('another spec (user, working directory or limits)');
    // The launcher's framing ends fields with NUL and reads at most LAUNCH_MESSAGE_MAX_BYTES.
    if ([cwd, ...args, ...env].some((f) => f.includes('\0')) || launchMessage({ args, env, cwd }).length > LAUNCH_MESSAGE_MAX_BYTES) return giveUp('a command the launcher cannot carry');
    const dir = this.containerDir(p.id);
    try {
      await rm(dir, { recursive: true, force: true });
      await rename(held.dir, dir); // the rootfs mount moves with it
      held.dir = dir;
      // Under read-only bind mounts: rewritten in place (a bind mount holds the inode).
      await rewriteInPlace(join(dir, 'hostname'), `${hostname}\n`);
      await rewriteInPlace(join(dir, 'hosts'), hostsFile(hostname) + this.peers.current);
      await rewriteInPlace(join(dir, 'resolv.conf'), await readFile(join(this.cfg.etc, 'resolv.conf'), 'utf8').catch(() => ''));
      const sys = sysCalls();
      if (!sys) throw new Error('no in-process system calls for the hostname');
      // Checked in the same turn as the setns: a launcher that died may have left its pid to another process.
      if (held.gone) throw new Error('its launcher is gone');
      sys.setUtsHostname(held.pid, hostname);
      // What a create would have written here, with the held container's cgroup.
      await writeFile(join(dir, 'config.json'), `${JSON.stringify(ociSpec({ ...input, ...heldSpecPaths(dir, this.cgroups.cgroupsPath(held.runtimeId)) }), null, 2)}\n`);
    } catch (e) {
      this.log('a held container could not be taken; creating as always', { id: p.id, error: (e as Error).message });
      await this.held.giveUp(held, (e as Error).message);
      return null;
    }
    const rec = newRecord(p, hostname, held.layers, { env, cwd, user, tty: false, volumes: [] });
    rec.runtimeId = held.runtimeId;
    this.records.set(p.id, rec);
    this.handovers.set(p.id, { held, args, env, cwd });
    await this.persist(rec);
    return { id: p.id, bundle: dir, held: true };
  }

  /** container.start of a container created from a held one: the launcher gets the command and execs it. */
  private async startHeld(rec: ContainerRecord, h: { held: HeldContainer } & Handover): Promise<Result<'container.start'>> {
    this.handovers.delete(rec.id);
    const { held } = h;
    const dir = this.containerDir(rec.id);
    const log = new LogWriter(join(dir, 'log'));
    const io = new ContainerIo(log, null, null);
    held.sink = (s, c) => io.emit(s, c);
    for (const [st, c] of held.early.splice(0)) io.emit(st, c);
    const launched = await handOver(held, h);
    if (!launched.ok) {
      const x = await Promise.race([held.exit, sleep(10_000).then(() => null)]);
      io.end();
      log.close();
      rec.error = launched.message;
      await this.persist(rec);
      await this.cgroups.remove(held.runtimeId);
      throw new AgentError('ERR_CONTAINER_START', rec.error, { exitCode: x?.code ?? null });
    }
    transition(rec, 'running');
    rec.pid = held.pid;
    rec.startedAt = Date.now();
    rec.error = null;
    await this.persist(rec);
    const exited = held.exit.then(async (x) => {
      io.end();
      await this.finish(rec, x, log, join(dir, 'crun.log'));
    });
    this.live.set(rec.id, { child: held.child, log, io, exited });
    return { id: rec.id, pid: held.pid, container: summary(rec) };
  }

  private async finish(rec: ContainerRecord, x: Exit, log: LogWriter, crunLog: string): Promise<void> {
    log.close();
    rec.oomKilled = (await this.cgroups.oomKills(runtimeIdOf(rec))) > 0;
    rec.exitCode = x.code ?? (x.signal ? 128 + (signalNumber(x.signal) ?? 0) : -1);
    rec.signal = x.signal;
    if (x.code !== 0) rec.error = await crunError(crunLog);
    // Before anyone learns it exited: the next step is often removing it, and its VM with it.
    if (rec.volumes?.length) await syncVolumes().catch((e: Error) => this.log('syncing volumes failed', { id: rec.id, error: e.message }));
    rec.finishedAt = Date.now();
    transition(rec, 'exited');
    this.live.delete(rec.id);
    await this.persist(rec).catch((e: Error) => this.log('cannot persist container state', { id: rec.id, error: e.message }));
  }

  async wait(id: string, signal: AbortSignal): Promise<Result<'container.wait'>> {
    const rec = this.get(id);
    if (rec.status === 'created') throw new AgentError('ERR_CONFLICT', `container ${id} was never started`);
    while (rec.status === 'running') {
      const l = this.live.get(id);
      const aborted = new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
      await Promise.race([l ? l.exited : sleep(1000), aborted]);
      if (signal.aborted) throw new AgentError('ERR_CANCELLED', 'wait cancelled');
    }
    return { exitCode: rec.exitCode ?? -1, signal: rec.signal, oomKilled: rec.oomKilled };
  }

  async kill(id: string, sig: string | undefined): Promise<Result<'container.kill'>> {
    const rec = this.get(id);
    if (rec.status !== 'running') throw new AgentError('ERR_CONFLICT', `container ${id} is not running (${rec.status})`);
    const err = await this.crun.kill(runtimeIdOf(rec), sig ?? 'SIGTERM', join(this.containerDir(id), 'crun-kill.log'));
    if (err !== null && rec.status === 'running') throw new AgentError('ERR_IO', `crun kill: ${err}`);
    return {};
  }

  delete(id: string, force: boolean): Promise<Result<'container.delete'>> {
    return this.locked(id, async () => {
      const rec = this.records.get(id);
      if (!rec) return { deleted: false };
      const rid = runtimeIdOf(rec);
      if (rec.status === 'running') {
        if (!force) throw new AgentError('ERR_CONFLICT', `container ${id} is running (use force)`);
        await this.crun.kill(rid, 'SIGKILL', join(this.containerDir(id), 'crun-kill.log'));
        const l = this.live.get(id);
        await Promise.race([l?.exited ?? sleep(1000), sleep(10_000)]);
      }
      // Created from a held container and never started: its launcher is still waiting.
      const handover = this.handovers.get(id);
      if (handover) {
        this.handovers.delete(id);
        handover.held.channel.destroy();
        await Promise.race([handover.held.exit, sleep(10_000)]);
      }
      const dir = this.containerDir(id);
      await this.crun.delete(rid, join(dir, 'crun-delete.log'));
      await unmountRootfs(dir);
      await this.cgroups.remove(rid);
      await rm(dir, { recursive: true, force: true });
      this.records.delete(id);
      this.live.delete(id);
      return { deleted: true };
    });
  }

  logWriter(id: string): LogWriter | null {
    return this.live.get(id)?.log ?? null;
  }

  /** The running main process's stdio (null when it is not running). */
  io(id: string): ContainerIo | null {
    return this.live.get(id)?.io ?? null;
  }

  /** Resolves once the container has left `created` (or the signal aborts). */
  async whenStarted(id: string, signal: AbortSignal): Promise<ContainerRecord> {
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
      const rec = this.get(id);
      if (rec.status !== 'created') return rec;
      if (signal.aborted) throw new AgentError('ERR_CANCELLED', 'attach cancelled');
      await sleep(delay);
    }
  }

  /** The exit of a running main process (records and io settle first). */
  async exited(id: string): Promise<void> {
    await this.live.get(id)?.exited;
  }

  private async watchOrphan(rec: ContainerRecord): Promise<void> {
    // The agent restarted: crun and the pipes died with the old agent, the exit status is lost.
    for (;;) {
      const st = await this.crun.state(runtimeIdOf(rec));
      if (!st || st.status === 'stopped') break;
      await sleep(1000);
    }
    rec.oomKilled = (await this.cgroups.oomKills(runtimeIdOf(rec))) > 0;
    rec.exitCode = -1;
    rec.error = 'exit status unknown: the agent restarted while the container ran';
    rec.finishedAt = Date.now();
    if (rec.status === 'running') transition(rec, 'exited');
    await this.persist(rec).catch(() => undefined);
  }

  private async persist(rec: ContainerRecord): Promise<void> {
    const file = join(this.containerDir(rec.id), 'state.json');
    if (!(await stat(this.containerDir(rec.id)).catch(() => null))) return;
    await writeFile(`${file}.tmp`, `${JSON.stringify(rec)}\n`);
    await rename(`${file}.tmp`, file);
  }

  private locked<T>(id: string, f: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(f, f);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }
}

/** A new container's record, status created. */
function newRecord(p: Params<'container.create'>, hostname: string, layers: string[], r: { env: string[]; cwd: string; user: OciUser; tty: boolean; volumes: string[] }): ContainerRecord {
  return {
    id: p.id,
    name: hostname,
    image: p.image,
    layers,
    status: 'created',
    pid: null,
    exitCode: null,
    signal: null,
    oomKilled: false,
    createdAt: Date.now(),
    startedAt: null,
    finishedAt: null,
    env: r.env,
    cwd: r.cwd,
    user: r.user,
    error: null,
    ...(r.volumes.length > 0 ? { volumes: r.volumes } : {}),
    tty: r.tty,
    openStdin: p.openStdin === true,
    ...(p.limits?.memoryMib === undefined ? {} : { limits: { memoryMib: p.limits.memoryMib } }),
  };
}

/** Terminal output into the log and to attached clients, until the terminal ends. */
async function pumpTerminal(t: Terminal, io: ContainerIo): Promise<void> {
  await new Promise<void>((resolve) => {
    t.stream.on('data', (c: Buffer) => io.emit('stdout', c));
    t.stream.once('end', () => resolve());
    t.stream.once('close', () => resolve());
  });
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

export function signalNumber(name: string): number | undefined {
  return SIGNALS[name];
}
