// The system calls identity.set makes in-process instead of through busybox
// (`date`, `hostname`, `ip link`): under TCG every process the agent starts in
// a freshly resumed clone costs tens to hundreds of milliseconds, and a pool
// take waits for all of them. Node has none of these calls, so they go through
// koffi's native module (the guest ships it at /opt/forkd/koffi.node, as for
// terminals). Every struct layout and raw buffer of this file is here and
// nowhere else (x86_64 Linux: timeval 16 bytes, ifreq 40, rand_pool_info 8 +
// data).
//
// loaded at agent start (sysCalls() from main), so a template's agent has them
// bound already and its clones inherit that.

import { createRequire } from 'node:module';
import { koffiPath } from './terminal.js';

const require = createRequire(import.meta.url);

export interface SysCalls {
  /** settimeofday(2): the clock to the millisecond. */
  setClock(epochMs: number): void;
  /** ioctl(RNDADDENTROPY): mixes `bytes` into the pool and credits 8 bits per byte. */
  addEntropy(bytes: Buffer): void;
  /** SIOCSIFHWADDR with the link down (as `ip link set dev X down; … address; … up`); leaves the link up. */
  setMac(nic: string, mac: string): void;
  /**
   * sethostname(2) inside the UTS namespace of process `pid` (a container's
   * init): setns into it, set the name, setns back. See bind() for why the
   * agent's own thread does this rather than a helper process.
   */
  setUtsHostname(pid: number, hostname: string): void;
  /**
   * The interface's IPv4 address and default route as `ip` would set them
   * (mtu, link up, `addr add`, `route replace default via`): SIOCSIFMTU,
   * SIOCSIFFLAGS, SIOCSIFADDR (replaces the primary address), SIOCSIFNETMASK,
   * then SIOCDELRT/SIOCADDRT of the default route.
   */
  configureIpv4(nic: string, n: { address: string; prefix: number; gateway?: string; mtu?: number }): void;
  /**
   * mount(2) of an overlay with `options` whose relative paths resolve from
   * `cwd` (the agent chdirs there for the call and back: mount options are
   * limited to one page, so lowerdir uses short relative paths).
   */
  mountOverlay(target: string, options: string, cwd: string): void;
}

export class SysCallError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call} failed: errno ${errno}`);
  }
}

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const O_WRONLY = 1;
const O_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const SIOCSIFHWADDR = 0x8924;
const SIOCSIFADDR = 0x8916;
const SIOCSIFNETMASK = 0x891c;
const SIOCSIFMTU = 0x8922;
const SIOCADDRT = 0x890b;
const SIOCDELRT = 0x890c;
const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;
const ESRCH = 3;
const IFF_UP = 0x1;
const ARPHRD_ETHER = 1;
/** _IOW('R', 0x03, int[2]) */
const RNDADDENTROPY = 0x40085203;
const O_RDONLY = 0;
const CLONE_NEWUTS = 0x04000000;

let cached: SysCalls | null | undefined;

/** The in-process calls, or null when the guest lacks koffi (identity.set then starts processes as before). */
export function sysCalls(): SysCalls | null {
  if (cached !== undefined) return cached;
  cached = null;
  const path = koffiPath();
  if (!path) return null;
  try {
    cached = bind(path);
  } catch {
    cached = null;
  }
  return cached;
}

function bind(path: string): SysCalls {
  interface Koffi {
    load(name: string): { func(sig: string): (...a: unknown[]) => unknown };
    errno(): number;
  }
  const k = require(path) as Koffi;
  const lib = k.load('libc.so.6');
  const settimeofday = lib.func('int settimeofday(void *tv, void *tz)') as (tv: Buffer, tz: null) => number;
  const ioctl = lib.func('int ioctl(int fd, unsigned long req, void *arg)') as (fd: number, req: number, arg: Buffer) => number;
  const open = lib.func('int open(const char *path, int flags)') as (p: string, f: number) => number;
  const socket = lib.func('int socket(int domain, int type, int protocol)') as (d: number, t: number, p: number) => number;
  const close = lib.func('int close(int fd)') as (fd: number) => number;
  const setns = lib.func('int setns(int fd, int nstype)') as (fd: number, t: number) => number;
  const sethostname = lib.func('int sethostname(const char *name, size_t len)') as (n: string, l: number) => number;
  const mount = lib.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)') as (s: string, t: string, f: string, fl: number, d: string) => number;
  const check = (call: string, r: number): number => {
    if (r < 0) throw new SysCallError(call, k.errno());
    return r;
  };
  return {
    setClock(epochMs) {
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(BigInt(Math.floor(epochMs / 1000)), 0);
      tv.writeBigInt64LE(BigInt(Math.round((epochMs % 1000) * 1000)), 8);
      check('settimeofday', settimeofday(tv, null));
    },
    addEntropy(bytes) {
      const info = Buffer.alloc(8 + bytes.length);
      info.writeInt32LE(bytes.length * 8, 0); // entropy_count, bits
      info.writeInt32LE(bytes.length, 4); // buf_size, bytes
      bytes.copy(info, 8);
      const fd = check('open /dev/urandom', open('/dev/urandom', O_WRONLY | O_CLOEXEC));
      try {
        check('ioctl RNDADDENTROPY', ioctl(fd, RNDADDENTROPY, info));
      } finally {
        close(fd);
      }
    },
    setMac(nic, mac) {
      const fd = check('socket', socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      try {
        const req = ifreq(nic);
        check(`SIOCGIFFLAGS ${nic}`, ioctl(fd, SIOCGIFFLAGS, req));
        const flags = req.readUInt16LE(16);
        if (flags & IFF_UP) {
          req.writeUInt16LE(flags & ~IFF_UP, 16);
          check(`SIOCSIFFLAGS ${nic} down`, ioctl(fd, SIOCSIFFLAGS, req));
        }
        const hw = ifreq(nic);
        hw.writeUInt16LE(ARPHRD_ETHER, 16); // sa_family
        Buffer.from(mac.split(':').map((h) => Number.parseInt(h, 16))).copy(hw, 18); // sa_data
        let setErr: unknown = null;
        try {
          check(`SIOCSIFHWADDR ${nic}`, ioctl(fd, SIOCSIFHWADDR, hw));
        } catch (e) {
          setErr = e;
        }
        // Up again whether or not the address took: a failed set must not leave the guest offline.
        req.writeUInt16LE(flags | IFF_UP, 16);
        check(`SIOCSIFFLAGS ${nic} up`, ioctl(fd, SIOCSIFFLAGS, req));
        if (setErr) throw setErr;
      } finally {
        close(fd);
      }
    },
    // setns(2) moves only the calling thread, here Node's main thread. Done
    // synchronously in one JS turn (open both namespaces, enter the
    // container's, sethostname, enter our own again), so no other JS, and no
    // libuv callback, runs on this thread while it is inside the container's
    // namespace; libuv's pool threads never move. The alternative, a helper
    // process (`nsenter -u -t PID hostname NAME`), costs a process start
    // (tens of ms under TCG) on every fork's identity step, which a pool take
    // waits for. The only way to stay behind is the way back failing, which
    // for our own namespace needs a kernel that refuses what it allowed a
    // moment ago: then the error says so and the agent's uname is wrong, its
    // files and the VM's hostname are not (they are not read through UTS).
    setUtsHostname(pid, hostname) {
      const own = check('open own uts namespace', open('/proc/thread-self/ns/uts', O_RDONLY | O_CLOEXEC));
      try {
        const theirs = check(`open uts namespace of pid ${pid}`, open(`/proc/${pid}/ns/uts`, O_RDONLY | O_CLOEXEC));
        try {
          check(`setns uts of pid ${pid}`, setns(theirs, CLONE_NEWUTS));
          let setErr: unknown = null;
          try {
            check('sethostname', sethostname(hostname, Buffer.byteLength(hostname)));
          } catch (e) {
            setErr = e;
          }
          check('setns back to the agent\'s uts namespace', setns(own, CLONE_NEWUTS));
          if (setErr) throw setErr;
        } finally {
          close(theirs);
        }
      } finally {
        close(own);
      }
    },
    mountOverlay(target, options, cwd) {
      const back = process.cwd();
      process.chdir(cwd);
      try {
        check(`mount overlay on ${target}`, mount('overlay', target, 'overlay', 0, options));
      } finally {
        process.chdir(back);
      }
    },
    configureIpv4(nic, n) {
      const fd = check('socket', socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      try {
        if (n.mtu !== undefined) {
          const m = ifreq(nic);
          m.writeInt32LE(n.mtu, 16);
          check(`SIOCSIFMTU ${nic}`, ioctl(fd, SIOCSIFMTU, m));
        }
        const req = ifreq(nic);
        check(`SIOCGIFFLAGS ${nic}`, ioctl(fd, SIOCGIFFLAGS, req));
        const flags = req.readUInt16LE(16);
        if (!(flags & IFF_UP)) {
          req.writeUInt16LE(flags | IFF_UP, 16);
          check(`SIOCSIFFLAGS ${nic} up`, ioctl(fd, SIOCSIFFLAGS, req));
        }
        const addr = ifreq(nic);
        sockaddrIn(n.address).copy(addr, 16);
        check(`SIOCSIFADDR ${nic}`, ioctl(fd, SIOCSIFADDR, addr));
        const mask = ifreq(nic);
        sockaddrIn(prefixMask(n.prefix)).copy(mask, 16);
        check(`SIOCSIFNETMASK ${nic}`, ioctl(fd, SIOCSIFNETMASK, mask));
        if (n.gateway !== undefined) {
          // "replace": the old default route (another network's) goes first; none is no error.
          const old = rtentry('0.0.0.0', 0);
          if (ioctl(fd, SIOCDELRT, old) < 0 && k.errno() !== ESRCH) throw new SysCallError('SIOCDELRT default', k.errno());
          check(`SIOCADDRT default via ${n.gateway}`, ioctl(fd, SIOCADDRT, rtentry(n.gateway, RTF_UP | RTF_GATEWAY)));
        }
      } finally {
        close(fd);
      }
    },
  };
}

/** struct sockaddr_in (16 bytes): AF_INET, port 0, the address in network order. */
function sockaddrIn(ipv4: string): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  Buffer.from(ipv4.split('.').map(Number)).copy(b, 4);
  return b;
}

/** The dotted netmask of a prefix length. */
export function prefixMask(prefix: number): string {
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
}

/**
 * struct rtentry (x86_64, 120 bytes) for the default route (dst and genmask
 * 0.0.0.0) via `gateway`: rt_dst at 8, rt_gateway at 24, rt_genmask at 40,
 * rt_flags at 56; rt_dev (88) stays NULL: the kernel finds the device that
 * reaches the gateway, the interface just given its address.
 */
function rtentry(gateway: string, flags: number): Buffer {
  const b = Buffer.alloc(120);
  sockaddrIn('0.0.0.0').copy(b, 8);
  sockaddrIn(gateway).copy(b, 24);
  sockaddrIn('0.0.0.0').copy(b, 40);
  b.writeUInt16LE(flags, 56);
  return b;
}

/** struct ifreq: the name (NUL-padded, 16 bytes) and a 24-byte union. */
function ifreq(nic: string): Buffer {
  const b = Buffer.alloc(40);
  b.write(nic, 0, 15, 'ascii');
  return b;
}
