// A container held ahead in a ready-pool clone (container.hold). Under TCG a
// `crun run` is most of a pooled container's start (~300 ms: crun's exec,
// namespaces, mounts, cgroup, the exec of the process), all of it knowable
// before the request when the clone's template has an image. So the idle
// clone runs that container ahead, with forkd's launcher as its process
// (images/guest/launcher/launch.c): a static program crun execs from the
// agent's descriptor 3, which waits on descriptor 4 (a socket to the agent)
// for a command and then execs it. Nothing of the image runs before a request
// and nothing of the launcher is left after it: no file, no mount, no
// descriptor.
//
// The next container.create of that image takes the hold if its OCI spec,
// built over the held container's paths, is the held one's except for the
// command, environment and hostname (those are handed over: the hostname by
// setns into the container's UTS namespace, /etc/hosts, /etc/hostname and
// /etc/resolv.conf rewritten in place under their bind mounts). A terminal,
// stdin, volumes, limits, another user or working directory all differ, and
// the create gives the hold up and runs crun as always. The container keeps
// the held crun id and cgroup (its record's runtimeId): crun and cgroup v2
// cannot rename them.

import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { Params, Result } from '../contracts/agent-protocol/index.js';
import type { Cgroups } from './cgroups.js';
import type { AgentConfig } from './config.js';
import { crunError, waitForPid, type Crun } from './crun.js';
import type { Log } from './handler.js';
import type { ImageStore } from './images.js';
import { mergeEnv, ociSpec, resolveUser, type OciUser, type SpecInput } from './oci-spec.js';
import { errnoName } from '../contracts/errno.js';
import { socketPair, type ChildLike } from './posix-spawn.js';
import { mountRootfs, unmountRootfs } from './rootfs.js';
import { sysCalls } from './sys-calls.js';

/** Held crun ids (and cgroup names) start so: outside the protocol's ContainerId pattern, so they never meet a real id. */
export const HELD_ID_PREFIX = '_forkd-held-';
/** crun execs the launcher through the descriptor the agent passes as 3. */
const LAUNCHER_ARGV0 = '/proc/self/fd/3';
const MAGIC = 'forkd-launch-1';
/** Output of a held container kept before a request takes it (the launcher prints nothing; crun rarely does). */
const EARLY_MAX_BYTES = 64 * 1024;
const GIVE_UP_WAIT_MS = 5_000;
/** A hold that has not started by then is abandoned: it must never block the next hold or a give-up. */
const HOLD_DEADLINE_MS = 60_000;
/** The launcher's read limit (launch.c MAX_MESSAGE); a bigger command is created as always. */
export const LAUNCH_MESSAGE_MAX_BYTES = 4 << 20;

export type Stream = 'stdout' | 'stderr';

export interface CrunExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
}

export interface HeldContainer {
  readonly runtimeId: string;
  readonly image: string;
  readonly layers: string[];
  /** Its bundle: under <root>/held until a container takes it, then that container's directory. */
  dir: string;
  /** The spec it runs with (the launcher as its process), for the match. */
  readonly spec: Record<string, unknown>;
  readonly user: OciUser;
  readonly cwd: string;
  /** The container's init (the launcher, then the request's process). */
  readonly pid: number;
  readonly child: ChildLike;
  readonly channel: Socket;
  readonly exit: Promise<CrunExit>;
  /** Set once crun has exited: its pid may be someone else's from then on. */
  gone: boolean;
  /** Where crun's pipes deliver: kept in `early` until a container takes the hold and points this at its log. */
  sink: (stream: Stream, chunk: Buffer) => void;
  readonly early: Array<[Stream, Buffer]>;
}

/** What a held container needs to become a request's container. */
export interface Handover {
  args: string[];
  env: string[];
  cwd: string;
}

export interface HeldDeps {
  cfg: AgentConfig;
  images: ImageStore;
  cgroups: Cgroups;
  crun: Crun;
  log: Log;
}

/** The spec inputs of a held container's paths, for the request's spec that is compared with it. */
export function heldSpecPaths(dir: string, cgroupsPath: string): Pick<SpecInput, 'rootfs' | 'cgroupsPath' | 'etcFiles'> {
  return { rootfs: join(dir, 'rootfs'), cgroupsPath, etcFiles: { hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname'), resolvConf: join(dir, 'resolv.conf') } };
}

/**
 * Whether a request's spec is the held one's but for what is handed over:
 * the process's arguments and environment, and the hostname.
 */
export function sameButHandedOver(held: Record<string, unknown>, request: Record<string, unknown>): boolean {
  const strip = (s: Record<string, unknown>) => ({ ...s, hostname: null, process: { ...(s['process'] as Record<string, unknown>), args: null, env: null } });
  return isDeepStrictEqual(strip(held), strip(request));
}

/** The launcher's message (launch.c): fields ending in NUL; none of them can hold one. */
export function launchMessage(h: Handover): Buffer {
  const fields = [MAGIC, h.cwd, String(h.args.length), ...h.args, String(h.env.length), ...h.env];
  return Buffer.from(fields.map((f) => `${f}\0`).join(''));
}

/** The launcher's answer when the exec failed ("errno\0step\0"), as crun would word it. */
export function launchFailure(reply: Buffer, command: string): { message: string; errno: number } {
  const [errnoText, step] = reply.toString().split('\0');
  const errno = Number(errnoText);
  const name = errnoName(errno);
  if (step === 'exec' && name === 'ENOENT') return { errno, message: `executable file \`${command}\` not found in $PATH: No such file or directory` };
  return { errno, message: `${step ?? 'launch'} \`${command}\`: ${name}` };
}

export class HeldContainers {
  private current: HeldContainer | null = null;
  /** hold() and give-ups one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: HeldDeps) {}

  private get root(): string {
    return join(this.d.cfg.root, 'held');
  }

  /** At agent start: what an earlier agent held is gone with it (its launcher read EOF and exited); clears what is left. */
  async init(): Promise<void> {
    for (const id of await readdir(this.root).catch(() => [] as string[])) {
      if (id.startsWith(HELD_ID_PREFIX)) await this.clear(id, join(this.root, id));
    }
  }

  hold(p: Params<'container.hold'>): Promise<Result<'container.hold'>> {
    const next = this.queue.then(() => this.holdNow(p));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async holdNow(p: Params<'container.hold'>): Promise<Result<'container.hold'>> {
    const t0 = Date.now();
    const no = (reason: string): Result<'container.hold'> => ({ ms: Date.now() - t0, held: false, reason });
    if (this.current?.image === p.image) return { ms: 0, held: true };
    if (this.current) await this.giveUpNow(this.current, `a hold of another image (${p.image})`);
    if (!existsSync(this.d.cfg.launcher)) return no(`no launcher at ${this.d.cfg.launcher}`);
    // The hostname is handed over by setns(2), in-process: no koffi, no hold.
    if (!this.d.cfg.system || !sysCalls()) return no('the agent has no in-process system calls (koffi)');
    const image = await this.d.images.image(p.image);
    if (!image) return no(`image ${p.image} is not in the guest`);
    const runtimeId = `${HELD_ID_PREFIX}${randomBytes(4).toString('hex')}`;
    const dir = join(this.root, runtimeId);
    // Descriptors of ours until something owns or closes them (-1: none).
    let ours = -1;
    let theirs = -1;
    let launcherFd = -1;
    try {
      for (const sub of ['rootfs', 'upper', 'work']) await mkdir(join(dir, sub), { recursive: true });
      const paths = heldSpecPaths(dir, this.d.cgroups.cgroupsPath(runtimeId));
      await mountRootfs(this.d.images, image.layers, dir, this.d.cfg.system);
      const passwd = await readFile(join(paths.rootfs, 'etc/passwd'), 'utf8').catch(() => '');
      const group = await readFile(join(paths.rootfs, 'etc/group'), 'utf8').catch(() => '');
      const user = resolveUser(image.config.User, passwd, group);
      if (!user) {
        await this.clear(runtimeId, dir);
        return no(`the image's user ${image.config.User} is not in its /etc/passwd`);
      }
      for (const f of ['hosts', 'hostname', 'resolv.conf']) await writeFile(join(dir, f), '');
      const cwd = image.config.WorkingDir || '/';
      const spec = ociSpec({ ...paths, args: [LAUNCHER_ARGV0], env: mergeEnv(image.config.Env, undefined, 'held'), cwd, user, hostname: 'held', limits: undefined, volumes: [] });
      await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
      await this.d.cgroups.prepare(runtimeId);
      const pair = socketPair();
      if (!pair) throw new Error('no socketpair (koffi)');
      [ours, theirs] = pair;
      launcherFd = openSync(this.d.cfg.launcher, 'r');
      const crunLog = join(dir, 'crun.log');
      const child = await this.d.crun.run(runtimeId, dir, crunLog, join(dir, 'pid'), { extraFds: [launcherFd, theirs] });
      closeSync(launcherFd);
      launcherFd = -1;
      closeSync(theirs);
      theirs = -1;
      const channel = new Socket({ fd: ours, readable: true, writable: true, allowHalfOpen: true });
      ours = -1;
      channel.on('error', () => undefined);
      const early: Array<[Stream, Buffer]> = [];
      let earlyBytes = 0;
      const held: Omit<HeldContainer, 'pid'> & { pid: number } = {
        runtimeId, image: p.image, layers: image.layers, dir, spec, user, cwd, pid: 0, child, channel, gone: false,
        exit: new Promise<CrunExit>((resolve) => {
          child.once('error', (e) => resolve({ code: null, signal: null, spawnError: e }));
          child.once('close', (code, signal) => resolve({ code, signal }));
        }),
        early,
        sink: (s, c) => {
          if (earlyBytes + c.length > EARLY_MAX_BYTES) return;
          earlyBytes += c.length;
          early.push([s, c]);
        },
      };
      child.stdout?.on('data', (c: Buffer) => held.sink('stdout', c));
      child.stderr?.on('data', (c: Buffer) => held.sink('stderr', c));
      let crunDone = false;
      void held.exit.then(() => {
        crunDone = true;
        held.gone = true;
      });
      const stopDeadline = new AbortController();
      const deadline = sleep(HOLD_DEADLINE_MS, undefined, { signal: stopDeadline.signal }).then(() => ({ late: true as const }), () => new Promise<never>(() => undefined));
      const started = await Promise.race([held.exit.then((x) => ({ exit: x })), waitForPid(join(dir, 'pid'), null, () => crunDone).then((pid) => ({ pid })), deadline]);
      stopDeadline.abort();
      if ('late' in started) {
        channel.destroy();
        await this.d.crun.kill(runtimeId, 'SIGKILL', join(dir, 'crun-kill.log'));
        await Promise.race([held.exit, sleep(GIVE_UP_WAIT_MS)]);
        crunDone = true;
        await this.clear(runtimeId, dir);
        return no(`the held container did not start within ${HOLD_DEADLINE_MS / 1000} s`);
      }
      if ('exit' in started) {
        const why = started.exit.spawnError?.message ?? (await crunError(crunLog)) ?? `crun exited ${started.exit.code ?? started.exit.signal}`;
        channel.destroy();
        await this.clear(runtimeId, dir);
        return no(`the held container did not start: ${why}`);
      }
      held.pid = started.pid;
      this.current = held;
      // A launcher that dies while held is no hold (a later create must not take it).
      void held.exit.then(() => {
        if (this.current === held) {
          this.current = null;
          void this.clear(runtimeId, held.dir);
        }
      });
      return { ms: Date.now() - t0, held: true };
    } catch (e) {
      for (const fd of [launcherFd, ours, theirs]) if (fd >= 0) closeSync(fd);
      await this.clear(runtimeId, dir);
      return no(`holding a container failed: ${(e as Error).message}`);
    }
  }

  /**
   * The held container of `image` for a create to take (no longer held: no
   * one else gets it). Any other image gives the hold up, in the background.
   */
  take(image: string): HeldContainer | null {
    const h = this.current;
    if (!h) return null;
    this.current = null;
    if (h.image === image) return h;
    void this.giveUp(h, `a create of another image (${image})`);
    return null;
  }

  /** Layers under the held container's rootfs (image removal must keep them). */
  layersInUse(): string[] {
    return this.current?.layers ?? [];
  }

  /** Ends a held container nobody takes: EOF to the launcher (it exits 0), then crun's state, mount, cgroup, directory. */
  giveUp(h: HeldContainer, why: string): Promise<void> {
    const next = this.queue.then(() => this.giveUpNow(h, why));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async giveUpNow(h: HeldContainer, why: string): Promise<void> {
    if (this.current === h) this.current = null;
    h.channel.end();
    const gone = await Promise.race([h.exit.then(() => true), sleep(GIVE_UP_WAIT_MS).then(() => false)]);
    if (!gone) {
      await this.d.crun.kill(h.runtimeId, 'SIGKILL', join(h.dir, 'crun-kill.log'));
      await Promise.race([h.exit, sleep(GIVE_UP_WAIT_MS)]);
    }
    h.channel.destroy();
    await this.clear(h.runtimeId, h.dir);
    this.d.log('gave up a held container', { runtimeId: h.runtimeId, image: h.image, why });
  }

  private async clear(runtimeId: string, dir: string): Promise<void> {
    await this.d.crun.deleteLeftover(runtimeId, join(dir, 'crun-delete.log')).catch(() => undefined);
    await unmountRootfs(dir).catch(() => undefined);
    await this.d.cgroups.remove(runtimeId).catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Hands the command to a held container's launcher and waits for its answer:
 * "+" when it found the program and execs it next, or "errno\0step\0" when
 * it did not (it then exits 127 or 126). End-of-file without an answer is a
 * launcher that died. (Not the exec's own end-of-file: crun's monitor keeps a
 * copy of the socket while the container runs.)
 */
export async function handOver(h: HeldContainer, what: Handover): Promise<{ ok: true } | { ok: false; message: string }> {
  let reply = Buffer.alloc(0);
  const answer = await new Promise<'ok' | 'failed' | 'gone'>((resolve) => {
    h.channel.on('data', (c: Buffer) => {
      reply = Buffer.concat([reply, c]);
      if (reply[0] === 0x2b) resolve('ok'); // '+'
      else if (reply.filter((b) => b === 0).length >= 2) resolve('failed');
    });
    h.channel.once('end', () => resolve('gone'));
    h.channel.once('close', () => resolve('gone'));
    h.channel.end(launchMessage(what));
  });
  h.channel.destroy();
  if (answer === 'ok') return { ok: true };
  if (answer === 'failed') return { ok: false, message: launchFailure(reply, what.args[0] ?? '').message };
  return { ok: false, message: 'the container\'s launcher exited before it took the command' };
}
