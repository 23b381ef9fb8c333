// Pseudo-terminals for containers. crun makes the terminal inside the
// container (its own devpts, so `tty` names it and the process gets it as its
// controlling terminal) and hands the master end over a unix socket
// (`--console-socket`) with SCM_RIGHTS. Node cannot receive a file descriptor,
// so the agent calls libc's recvmsg(2) and ioctl(2) through koffi's native
// module, which the guest image ships at /opt/forkd/koffi.node. The master is
// then an ordinary tty stream in Node (tty.ReadStream, opened writable).
//
// Every raw pointer and struct layout of this file is here and nowhere else
// (x86_64 Linux: msghdr 56 bytes, iovec 16, cmsghdr 16 + data).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { ReadStream } from 'node:tty';
import { AgentError } from '../contracts/agent-protocol/index.js';

const require = createRequire(import.meta.url);

interface Libc {
  recvmsg(fd: number, msg: Buffer, flags: number): number;
  ioctl(fd: number, req: number, arg: Buffer): number;
  errno(): number;
  address(b: Buffer): bigint;
}

/** Where koffi.node is looked for: FORKD_AGENT_KOFFI, the guest's copy, then the host's node_modules (tests). */
export function koffiPath(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [env['FORKD_AGENT_KOFFI'], '/opt/forkd/koffi.node'];
  try {
    candidates.push(require.resolve('@koromix/koffi-linux-x64/linux_x64/koffi.node'));
  } catch {
    // not on the host either
  }
  return candidates.find((p): p is string => !!p && existsSync(p)) ?? null;
}

let libc: Libc | null = null;

function loadLibc(): Libc {
  if (libc) return libc;
  const path = koffiPath();
  if (!path) throw new AgentError('ERR_CONTAINER_START', 'terminals need koffi.node (/opt/forkd/koffi.node) and it is missing from the guest');
  interface Koffi {
    load(name: string): { func(sig: string): (...a: unknown[]) => unknown };
    errno(): number;
    address(b: Buffer): bigint | number;
  }
  const k = require(path) as Koffi;
  const lib = k.load('libc.so.6');
  const recvmsg = lib.func('long recvmsg(int fd, void *msg, int flags)');
  const ioctl = lib.func('int ioctl(int fd, unsigned long req, void *arg)');
  libc = {
    recvmsg: (fd, msg, flags) => Number(recvmsg(fd, msg, flags)),
    ioctl: (fd, req, arg) => Number(ioctl(fd, req, arg)),
    errno: () => k.errno(),
    address: (b) => BigInt(k.address(b)),
  };
  return libc;
}

const MSG_CMSG_CLOEXEC = 0x40000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const EAGAIN = 11;
const EINTR = 4;
const TIOCSWINSZ = 0x5414;

/** One file descriptor from a connected unix socket's next message; null while none has arrived; -1 at EOF. */
function recvFd(fd: number): number | null {
  const c = loadLibc();
  const data = Buffer.alloc(512);
  const iov = Buffer.alloc(16);
  const control = Buffer.alloc(64);
  const msg = Buffer.alloc(56);
  iov.writeBigUInt64LE(c.address(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  msg.writeBigUInt64LE(c.address(iov), 16); // msg_iov
  msg.writeBigUInt64LE(1n, 24); // msg_iovlen
  msg.writeBigUInt64LE(c.address(control), 32); // msg_control
  msg.writeBigUInt64LE(BigInt(control.length), 40); // msg_controllen
  const n = c.recvmsg(fd, msg, MSG_CMSG_CLOEXEC);
  if (n < 0) {
    const e = c.errno();
    if (e === EAGAIN || e === EINTR) return null;
    throw new AgentError('ERR_IO', `recvmsg on the console socket failed (errno ${e})`);
  }
  if (n === 0) return -1;
  const controlLen = Number(msg.readBigUInt64LE(40));
  if (controlLen < 20 || control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) {
    throw new AgentError('ERR_IO', 'the console socket message carried no file descriptor');
  }
  return control.readInt32LE(16);
}

/** Sets a terminal's size (TIOCSWINSZ on the master; the process gets SIGWINCH). */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  if (loadLibc().ioctl(fd, TIOCSWINSZ, ws) !== 0) throw new AgentError('ERR_IO', `cannot resize the terminal (errno ${loadLibc().errno()})`);
}

/** The master end of a container's terminal: bytes both ways, and its size. */
export class Terminal {
  readonly stream: ReadStream;

  constructor(readonly fd: number) {
    // A tty.ReadStream opened writable is one libuv tty handle for both directions.
    this.stream = new ReadStream(fd, { writable: true } as ConstructorParameters<typeof ReadStream>[1]);
    // EIO when the last slave closes is how a terminal ends; it is not a fault.
    this.stream.on('error', () => undefined);
  }

  resize(rows: number, cols: number): void {
    setWindowSize(this.fd, rows, cols);
  }

  write(b: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream.destroyed) return resolve();
      this.stream.write(b, () => resolve());
    });
  }

  close(): void {
    this.stream.destroy();
  }
}

/**
 * The unix socket crun connects to (`--console-socket`) to hand over the
 * terminal's master. `received` settles with the Terminal, or rejects when
 * crun closes without sending one or `close()` comes first.
 */
export class ConsoleSocket {
  private readonly server: Server;
  readonly received: Promise<Terminal>;
  private fail!: (e: Error) => void;

  private constructor(readonly path: string) {
    let got!: (t: Terminal) => void;
    this.received = new Promise<Terminal>((resolve, reject) => {
      got = resolve;
      this.fail = reject;
    });
    this.received.catch(() => undefined);
    // pauseOnConnect: Node must not read the message, recvmsg does.
    this.server = createServer({ pauseOnConnect: true }, (conn: Socket) => {
      const fd = (conn as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) return conn.destroy();
      const poll = (delay: number) => {
        try {
          const master = recvFd(fd);
          if (master === null) return void setTimeout(() => poll(Math.min(delay * 2, 50)), delay).unref();
          conn.destroy();
          if (master < 0) return this.fail(new AgentError('ERR_CONTAINER_START', 'crun closed the console socket without a terminal'));
          got(new Terminal(master));
        } catch (e) {
          conn.destroy();
          this.fail(e as Error);
        }
      };
      poll(2);
    });
  }

  static async listen(path: string): Promise<ConsoleSocket> {
    await rm(path, { force: true });
    loadLibc(); // fail before crun runs when the guest lacks koffi
    const s = new ConsoleSocket(path);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(path, () => resolve());
    });
    return s;
  }

  /** Stops listening; a terminal not yet received never will be. */
  async close(): Promise<void> {
    this.fail(new AgentError('ERR_CONTAINER_START', 'no terminal came on the console socket'));
    await new Promise<void>((r) => this.server.close(() => r()));
    await rm(this.path, { force: true });
  }
}
