// Starting a process without copying the agent. Node's child_process forks
// (libuv 1.46 on Linux): the kernel copies the page tables of the agent's
// whole address space and the child takes copy-on-write faults until it
// execs. Under TCG that is emulated kernel work, ~40 ms for `/bin/true`
// against 5–7 ms from busybox sh (docs/fork.md), and every container start
// (`crun run`) and exec pays it. posix_spawn(3) in glibc uses
// clone(CLONE_VM | CLONE_VFORK): no copy, the parent waits only until the exec.
//
// The child gets what Node's spawn would give it: every signal at its default
// and none blocked (Node ignores SIGPIPE; a container must not inherit that),
// stdio on Unix socket pairs as libuv makes them (so `end()` of stdin is a
// half-close the container sees as EOF), the given cwd and environment.
// Exits are reaped on SIGCHLD with waitpid(pid, WNOHANG) for our own pids
// only; libuv reaps its children the same way, so neither steals the other's.
//
// Without koffi (a guest built without it) `spawnChild` is Node's spawn.

import { spawn as nodeSpawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { errnoName } from '../contracts/errno.js';
import { koffiPath } from './terminal.js';

const require = createRequire(import.meta.url);

export type StdioMode = 'pipe' | 'ignore';

export interface SpawnChildOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdin, stdout, stderr; default all 'pipe'. */
  stdio?: readonly [StdioMode, StdioMode, StdioMode];
  /** Descriptors of ours the child gets as 3, 4, … (ours stay open; the caller closes them). */
  extraFds?: readonly number[];
}

/** What the agent uses of a child process; Node's ChildProcess is one. */
export interface ChildLike {
  readonly pid?: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals | number): boolean;
  once(event: 'close' | 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  on(event: 'close' | 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

interface Libc {
  spawn(pid: number[], path: string, fa: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[]): number;
  faInit(fa: Buffer): number;
  faDestroy(fa: Buffer): number;
  faDup2(fa: Buffer, fd: number, to: number): number;
  faOpen(fa: Buffer, fd: number, path: string, flags: number, mode: number): number;
  faChdir(fa: Buffer, path: string): number;
  attrInit(attr: Buffer): number;
  attrDestroy(attr: Buffer): number;
  attrSetFlags(attr: Buffer, flags: number): number;
  attrSetSigDefault(attr: Buffer, set: Buffer): number;
  attrSetSigMask(attr: Buffer, set: Buffer): number;
  socketPair(domain: number, type: number, protocol: number, fds: number[]): number;
  close(fd: number): number;
  waitpid(pid: number, status: number[], options: number): number;
  errno(): number;
}

// glibc x86_64 sizes of the opaque types (posix_spawn_file_actions_t 80, posix_spawnattr_t 336, sigset_t 128).
const FILE_ACTIONS_BYTES = 80;
const SPAWNATTR_BYTES = 336;
const SIGSET_BYTES = 128;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const O_RDWR = 2;
const WNOHANG = 1;

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const path = koffiPath();
  if (!path) return null;
  try {
    interface Koffi { load(name: string): { func(sig: string): (...a: unknown[]) => number }; errno(): number }
    const k = require(path) as Koffi;
    const c = k.load('libc.so.6');
    const f = (sig: string) => c.func(sig) as never;
    libc = {
      spawn: f('int posix_spawn(_Out_ int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)'),
      faInit: f('int posix_spawn_file_actions_init(void *fa)'),
      faDestroy: f('int posix_spawn_file_actions_destroy(void *fa)'),
      faDup2: f('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
      faOpen: f('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, unsigned int mode)'),
      faChdir: f('int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)'),
      attrInit: f('int posix_spawnattr_init(void *attr)'),
      attrDestroy: f('int posix_spawnattr_destroy(void *attr)'),
      attrSetFlags: f('int posix_spawnattr_setflags(void *attr, short flags)'),
      attrSetSigDefault: f('int posix_spawnattr_setsigdefault(void *attr, void *set)'),
      attrSetSigMask: f('int posix_spawnattr_setsigmask(void *attr, void *set)'),
      socketPair: f('int socketpair(int domain, int type, int protocol, _Out_ int *fds)'),
      close: f('int close(int fd)'),
      waitpid: f('int waitpid(int pid, _Out_ int *status, int options)'),
      errno: () => k.errno(),
    };
  } catch {
    libc = null;
  }
  return libc;
}

/** Whether children start through posix_spawn here (koffi present), for tests and logs. */
export function posixSpawnAvailable(): boolean {
  return loadLibc() !== null;
}

/**
 * A connected pair of Unix stream sockets, both close-on-exec: one end for
 * us (wrap it in a net.Socket), one to hand a child through `extraFds` (then
 * close it here). Null without koffi.
 */
export function socketPair(): [number, number] | null {
  const c = loadLibc();
  if (!c) return null;
  const pair = [-1, -1];
  if (c.socketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) throw spawnError('socketpair', c.errno(), 'socketpair');
  return [pair[0]!, pair[1]!];
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/** waitpid's status word as Node reports an exit: a code, or the signal that ended it. */
export function decodeWaitStatus(status: number): { code: number | null; signal: NodeJS.Signals | null } {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: SIGNAL_NAMES.get(sig) ?? null };
}

/** Children started here that are not reaped yet; `done(null)`: gone, its status unknown. */
const running = new Map<number, (status: number | null) => void>();
let reaperInstalled = false;
/**
 * While children run: a rare poll that keeps the event loop alive, as Node's
 * own child handles do (a SIGCHLD listener does not), and reaps even if a
 * signal were ever missed. Rare, because a ready clone's held container is a
 * child for as long as the clone idles, and under TCG every wake-up costs.
 */
let keepAlive: NodeJS.Timeout | null = null;
const KEEPALIVE_POLL_MS = 30_000;
const ECHILD = 10;

function reapExited(c: Libc): void {
  for (const [pid, done] of running) {
    const status = [0];
    const r = c.waitpid(pid, status, WNOHANG);
    if (r === pid) {
      running.delete(pid);
      done(status[0]!);
    } else if (r < 0 && c.errno() === ECHILD) {
      // Not our child any more (someone else reaped it): report it gone rather than running forever.
      running.delete(pid);
      done(null);
    }
  }
  if (running.size === 0 && keepAlive) {
    clearInterval(keepAlive);
    keepAlive = null;
  }
}

function track(c: Libc, pid: number, done: (status: number | null) => void): void {
  running.set(pid, done);
  keepAlive ??= setInterval(() => reapExited(c), KEEPALIVE_POLL_MS);
}

class SpawnedChild extends EventEmitter implements ChildLike {
  pid: number | undefined = undefined;
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** Set the moment waitpid took it: from then on its pid may be someone else's. */
  private reaped = false;
  private openStreams = 0;

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    // An unreaped child keeps its pid (a zombie at worst), so this never hits a stranger.
    if (this.pid === undefined || this.reaped) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Called with each output stream: 'close' waits for all of them, as Node's does. */
  track(s: Socket): void {
    this.openStreams++;
    s.once('close', () => {
      this.openStreams--;
      this.maybeClose();
    });
  }

  exited(status: number | null): void {
    this.reaped = true;
    // Never from inside spawnChild (its own reap can find the child gone already): listeners come after it returns.
    setImmediate(() => {
      this.exit = status === null ? { code: null, signal: null } : decodeWaitStatus(status);
      // As Node's: stdin goes with the child, and output nobody reads is drained so 'close' can come.
      this.stdin?.destroy();
      for (const s of [this.stdout, this.stderr]) if (s && s.listenerCount('data') === 0 && !s.readableFlowing) s.resume();
      this.emit('exit', this.exit.code, this.exit.signal);
      this.maybeClose();
    });
  }

  /** A child that never started: 'error' only, with ended streams where the caller asked for pipes (as Node gives). */
  failed(e: unknown, stdio: readonly StdioMode[]): void {
    const ended = (): PassThrough => {
      const p = new PassThrough();
      p.end();
      return p;
    };
    if (stdio[0] === 'pipe') this.stdin = new Writable({ write: (_c, _e, cb) => cb() });
    if (stdio[1] === 'pipe') this.stdout = ended();
    if (stdio[2] === 'pipe') this.stderr = ended();
    this.reaped = true;
    process.nextTick(() => this.emit('error', e));
  }

  private maybeClose(): void {
    if (this.exit && this.openStreams === 0) this.emit('close', this.exit.code, this.exit.signal);
  }
}

/** `file args` as a child process: posix_spawn where koffi is, else Node's spawn. */
export function spawnChild(file: string, args: readonly string[], opts: SpawnChildOptions = {}): ChildLike {
  const stdio = opts.stdio ?? ['pipe', 'pipe', 'pipe'];
  const c = loadLibc();
  const extra = opts.extraFds ?? [];
  if (!c) return nodeSpawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: [...stdio, ...extra] });
  if (!reaperInstalled) {
    reaperInstalled = true;
    process.on('SIGCHLD', () => reapExited(c));
  }
  const child = new SpawnedChild();
  const fa = Buffer.alloc(FILE_ACTIONS_BYTES);
  const attr = Buffer.alloc(SPAWNATTR_BYTES);
  const ours: number[] = []; // our ends of the socket pairs, by stdio index (-1: ignored)
  const theirs: number[] = [];
  c.faInit(fa);
  c.attrInit(attr);
  try {
    for (let fd = 0; fd < 3; fd++) {
      if (stdio[fd] === 'ignore') {
        c.faOpen(fa, fd, '/dev/null', O_RDWR, 0);
        ours.push(-1);
        continue;
      }
      const pair = [-1, -1];
      if (c.socketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) throw spawnError('socketpair', c.errno(), file);
      ours.push(pair[0]!);
      theirs.push(pair[1]!);
      c.faDup2(fa, pair[1]!, fd); // dup2 clears close-on-exec on the copy only
    }
    // Our descriptors are all close-on-exec; a dup2 onto 3, 4, … is the child's own copy without it.
    // A source inside the target range could be overwritten before its own dup2 (or keep
    // close-on-exec when it is its own target); the agent's are far above it, so that is refused.
    extra.forEach((fd, i) => {
      if (fd < 3 + extra.length) throw spawnError('extraFds', 22, file); // EINVAL
      c.faDup2(fa, fd, 3 + i);
    });
    if (opts.cwd !== undefined) c.faChdir(fa, opts.cwd);
    // Every signal 1–64 back to its default. Not sigfillset(): it leaves out glibc's own
    // 32 and 33, which posix_spawn then sets to SIG_IGN in the child, and an exec keeps that.
    const all = Buffer.alloc(SIGSET_BYTES);
    all.fill(0xff, 0, 8);
    const none = Buffer.alloc(SIGSET_BYTES);
    c.attrSetSigDefault(attr, all);
    c.attrSetSigMask(attr, none);
    c.attrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    const env = Object.entries(opts.env ?? process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    const pid = [0];
    // The program on the child's PATH, as Node's spawn looks it up (posix_spawnp would use ours).
    const program = onPath(file, (opts.env ?? process.env)['PATH']);
    const err = c.spawn(pid, program, fa, attr, [file, ...args, null], [...env, null]);
    for (const fd of theirs) c.close(fd);
    theirs.length = 0;
    if (err !== 0) throw spawnError('spawn', err, file);
    child.pid = pid[0]!;
    track(c, child.pid, (status) => child.exited(status));
  } catch (e) {
    for (const fd of [...ours, ...theirs]) if (fd >= 0) c.close(fd);
    child.failed(e, stdio);
    return child;
  } finally {
    c.faDestroy(fa);
    c.attrDestroy(attr);
  }
  const wrap = (fd: number, readable: boolean): Socket => {
    const s = new Socket({ fd, readable, writable: !readable, allowHalfOpen: true });
    // As Node's: 'close' waits for the output streams, not for stdin (which may never be ended).
    if (readable) {
      s.once('end', () => s.destroy());
      child.track(s);
    }
    return s;
  };
  if (ours[0]! >= 0) child.stdin = wrap(ours[0]!, false);
  if (ours[1]! >= 0) child.stdout = wrap(ours[1]!, true);
  if (ours[2]! >= 0) child.stderr = wrap(ours[2]!, true);
  // An exit that came before the pid was in `running` sent its SIGCHLD to nobody.
  reapExited(c);
  return child;
}

/** `file` itself when it has a slash, else the first executable file of that name on `path` (else `file`: the spawn says ENOENT). */
export function onPath(file: string, path: string | undefined): string {
  if (file.includes('/')) return file;
  for (const dir of (path ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const candidate = join(dir || '.', file);
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return file;
}

function spawnError(call: string, errno: number, file: string): NodeJS.ErrnoException {
  const name = errnoName(errno);
  const e: NodeJS.ErrnoException = new Error(`${call} ${file} ${name}`);
  e.code = name;
  e.errno = -errno;
  e.syscall = call === 'spawn' ? `spawn ${file}` : call;
  e.path = file;
  return e;
}
