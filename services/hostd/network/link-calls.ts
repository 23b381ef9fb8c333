// The two link changes on a take's critical path, made in-process instead of
// by two `ip` processes: a tap into its network's namespace, then onto the
// namespace's bridge and up. Each `ip` cost 20–50 ms of process start from
// hostd (a fork of a large Node process, then ip's own start) while the guest's
// TCG thread held the other core: most of the 65 ms join step measured in the
// bench. Here they are one netlink message and three ioctls, well under a
// millisecond. Every struct layout and raw buffer is in this file (x86_64
// Linux: nlmsghdr 16 bytes, ifinfomsg 16, rtattr 4 + value, ifreq 40).
//
// Without koffi (it is a dependency, so only a broken install) the caller
// falls back to `ip`.
import koffi from 'koffi';
import { errnoName } from '../../contracts/errno.js';

export interface LinkCalls {
  /** Moves link `name` from the host's namespace into the namespace mounted at `nsPath` (`ip link set dev NAME netns NS`). */
  moveToNetns(name: string, nsPath: string): void;
  /** In the namespace at `nsPath`: `name` onto bridge `bridge` and up (`ip -n NS link set dev NAME master BRIDGE up`). */
  enslaveUp(nsPath: string, name: string, bridge: string): void;
}

export class LinkCallError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call} failed: ${errnoName(errno)}`);
  }
}

const AF_NETLINK = 16;
const AF_INET = 2;
const SOCK_RAW = 3;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
const RTM_NEWLINK = 16;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLMSG_ERROR = 2;
const IFLA_NET_NS_FD = 28;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const SIOCGIFINDEX = 0x8933;
const SIOCBRADDIF = 0x89a2;
const IFF_UP = 0x1;
const IFNAMSIZ = 16;


let cached: LinkCalls | null | undefined;

/** The in-process calls, or null when koffi cannot bind libc here (the caller runs `ip`). */
export function linkCalls(): LinkCalls | null {
  if (cached === undefined) {
    try {
      cached = bind();
    } catch {
      cached = null;
    }
  }
  return cached;
}

function ifreqName(name: string): Buffer {
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new LinkCallError(`interface name ${name}`, 22);
  const req = Buffer.alloc(40);
  req.write(name, 0, 'latin1');
  return req;
}

function bind(): LinkCalls {
  const lib = koffi.load('libc.so.6');
  const socket = lib.func('int socket(int domain, int type, int protocol)') as (d: number, t: number, p: number) => number;
  const close = lib.func('int close(int fd)') as (fd: number) => number;
  const open = lib.func('int open(const char *path, int flags)') as (p: string, f: number) => number;
  const setns = lib.func('int setns(int fd, int nstype)') as (fd: number, t: number) => number;
  const ioctl = lib.func('int ioctl(int fd, unsigned long req, void *arg)') as (fd: number, req: number, arg: Buffer) => number;
  const send = lib.func('long send(int fd, const void *buf, size_t len, int flags)') as (fd: number, b: Buffer, l: number, f: number) => number;
  const recv = lib.func('long recv(int fd, void *buf, size_t len, int flags)') as (fd: number, b: Buffer, l: number, f: number) => number;
  const ifNameToIndex = lib.func('unsigned int if_nametoindex(const char *name)') as (n: string) => number;
  const check = (call: string, r: number): number => {
    if (r < 0) throw new LinkCallError(call, koffi.errno());
    return r;
  };

  /** An AF_INET socket made inside the namespace at `nsPath`: its ioctls act there, whatever this thread's namespace. */
  function socketIn(nsPath: string): number {
    const own = check('open own network namespace', open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC));
    try {
      const theirs = check(`open ${nsPath}`, open(nsPath, O_RDONLY | O_CLOEXEC));
      try {
        // setns(2) moves only this thread (Node's main thread), for one synchronous
        // JS turn: no other JS and no libuv callback runs here meanwhile, and
        // libuv's pool threads never move (the agent's setUtsHostname does the same).
        check(`setns ${nsPath}`, setns(theirs, CLONE_NEWNET));
        let made = -1;
        let err: unknown = null;
        try {
          made = check('socket', socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        } catch (e) {
          err = e;
        }
        const back = setns(own, CLONE_NEWNET);
        if (back < 0) {
          // Never seen: our own namespace refusing us. Staying in a tenant's namespace is not an option.
          process.stderr.write(`forkd hostd: setns back to its own network namespace failed (errno ${koffi.errno()}); exiting\n`);
          process.abort();
        }
        if (err) throw err;
        return made;
      } finally {
        close(theirs);
      }
    } finally {
      close(own);
    }
  }

  return {
    moveToNetns(name, nsPath) {
      const index = ifNameToIndex(name);
      if (index === 0) throw new LinkCallError(`if_nametoindex ${name}`, koffi.errno() || 19);
      const nsFd = check(`open ${nsPath}`, open(nsPath, O_RDONLY | O_CLOEXEC));
      try {
        const fd = check('socket netlink', socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
        try {
          const msg = Buffer.alloc(40);
          msg.writeUInt32LE(40, 0); // nlmsg_len
          msg.writeUInt16LE(RTM_NEWLINK, 4);
          msg.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, 6);
          msg.writeUInt32LE(1, 8); // nlmsg_seq
          // ifinfomsg at 16: family 0, type 0, then the index; flags and change 0.
          msg.writeInt32LE(index, 20);
          // rtattr at 32: IFLA_NET_NS_FD = the namespace's descriptor.
          msg.writeUInt16LE(8, 32);
          msg.writeUInt16LE(IFLA_NET_NS_FD, 34);
          msg.writeUInt32LE(nsFd, 36);
          check(`netlink send (move ${name})`, send(fd, msg, msg.length, 0));
          const reply = Buffer.alloc(1024);
          const n = check(`netlink recv (move ${name})`, recv(fd, reply, reply.length, 0));
          if (n < 20 || reply.readUInt16LE(4) !== NLMSG_ERROR) throw new LinkCallError(`netlink reply (move ${name})`, 71 /* EPROTO */);
          const error = reply.readInt32LE(16);
          if (error !== 0) throw new LinkCallError(`RTM_NEWLINK ${name} netns ${nsPath}`, -error);
        } finally {
          close(fd);
        }
      } finally {
        close(nsFd);
      }
    },

    enslaveUp(nsPath, name, bridge) {
      const fd = socketIn(nsPath);
      try {
        const idx = ifreqName(name);
        check(`SIOCGIFINDEX ${name}`, ioctl(fd, SIOCGIFINDEX, idx));
        const br = ifreqName(bridge);
        br.writeInt32LE(idx.readInt32LE(16), 16); // ifr_ifindex
        check(`SIOCBRADDIF ${bridge} ${name}`, ioctl(fd, SIOCBRADDIF, br));
        const flags = ifreqName(name);
        check(`SIOCGIFFLAGS ${name}`, ioctl(fd, SIOCGIFFLAGS, flags));
        flags.writeUInt16LE(flags.readUInt16LE(16) | IFF_UP, 16);
        check(`SIOCSIFFLAGS ${name} up`, ioctl(fd, SIOCSIFFLAGS, flags));
      } finally {
        close(fd);
      }
    },
  };
}
