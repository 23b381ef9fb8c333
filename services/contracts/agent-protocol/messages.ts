// Every message header on the wire, and every method with its params, result and
// streams. The METHODS table is the single source: the agent validates params
// with it, the host validates results with it, and the static types of
// AgentClient.call() are inferred from it.

import { arr, bool, int, lit, nullable, num, obj, opt, str, validate, type Infer, type Schema } from './schema.js';
import { LIMITS } from './limits.js';
import { FrameDecoder } from './framing.js';

// ---- shared field schemas -------------------------------------------------

export const Digest = str({ pattern: /^sha256:[0-9a-f]{64}$/, max: 71 });
export const ContainerId = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/ });
export const Hostname = str({ min: 1, max: 63, pattern: /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/ });
/** A unicast MAC, lower-case `xx:xx:xx:xx:xx:xx` (the multicast bit, 0x01 of the first octet, clear). */
export const MacAddress = str({ max: 17, pattern: /^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/ });
const MachineId = str({ pattern: /^[0-9a-f]{32}$/ });
const Arg = str({ max: 32 * 1024 });
const EnvVar = str({ max: 32 * 1024, pattern: /^[^=\0]+=/s });

export const ImageConfig = obj({
  Env: opt(arr(EnvVar)),
  Cmd: opt(arr(Arg)),
  Entrypoint: opt(arr(Arg)),
  WorkingDir: opt(str()),
  User: opt(str({ max: 256 })),
});
export type ImageConfig = Infer<typeof ImageConfig>;

export const ContainerStatus = lit('created', 'running', 'exited');
export type ContainerStatus = Infer<typeof ContainerStatus>;

export const ContainerSummary = obj({
  id: ContainerId,
  name: str({ max: 63 }),
  image: Digest,
  status: ContainerStatus,
  pid: nullable(int({ min: 0 })),
  exitCode: nullable(int()),
  oomKilled: bool,
  createdAt: int({ min: 0 }),
  startedAt: nullable(int({ min: 0 })),
  finishedAt: nullable(int({ min: 0 })),
});
export type ContainerSummary = Infer<typeof ContainerSummary>;

/** A tenant network's members as hosts-file entries (network.hosts, identity.set's `hosts`). */
const PeerEntries = arr(
  obj({
    address: str({ max: 15, pattern: /^\d{1,3}(\.\d{1,3}){3}$/ }),
    names: arr(str({ min: 1, max: 63, pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/ }), { max: 8 }),
  }),
  { max: 1024 },
);

/** A volume's disk, found by its virtio-blk serial, mounted (ext4) and bind-mounted into the container at `destination`. */
export const VolumeMount = obj({
  serial: str({ min: 1, max: 20, pattern: /^[A-Za-z0-9]+$/ }),
  destination: str({ min: 2, max: 4096, pattern: /^\/[^\0]*$/ }),
  readOnly: bool,
});
export type VolumeMount = Infer<typeof VolumeMount>;

export const Limits = obj({
  memoryMib: opt(int({ min: 4, max: 1024 * 1024 })),
  cpus: opt(num({ min: 0.01, max: 1024 })),
  pids: opt(int({ min: 1, max: 4_194_304 })),
});
export type Limits = Infer<typeof Limits>;

const Empty = obj({});
/** A terminal size in character cells. */
const Rows = int({ min: 1, max: 4096 });
const Cols = int({ min: 1, max: 4096 });
/** Names one tty exec inside a container, so a resize can reach it. */
export const ExecId = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ });

// ---- methods --------------------------------------------------------------

/** Which stream channels a method uses: `in` host→agent, `out`/`err` agent→host. */
export interface StreamSpec {
  readonly in?: boolean;
  readonly out?: boolean;
  readonly err?: boolean;
}

interface MethodSpec<P, R> {
  readonly params: Schema<P>;
  readonly result: Schema<R>;
  readonly streams: StreamSpec;
}

function method<P, R>(params: Schema<P>, result: Schema<R>, streams: StreamSpec = {}): MethodSpec<P, R> {
  return { params, result, streams };
}

export const METHODS = {
  hello: method(
    obj({ protocol: int({ min: 0 }), nonce: str({ max: 128 }), client: opt(str({ max: 256 })) }),
    obj({ protocol: int({ min: 0 }), nonce: str({ max: 128 }), agentVersion: str({ max: 256 }) }),
  ),
  ping: method(Empty, obj({ now: int({ min: 0 }) })),
  info: method(
    Empty,
    obj({
      agentVersion: str({ max: 256 }),
      protocol: int({ min: 0 }),
      kernel: str({ max: 512 }),
      hostname: str({ max: 256 }),
      uptimeSec: num({ min: 0 }),
      memory: obj({ totalBytes: int({ min: 0 }), availableBytes: int({ min: 0 }) }),
      cgroup: lit('v2', 'v1', 'none'),
      runtime: str({ max: 512 }),
      /** /etc/machine-id as the guest has it now (absent when the file is missing or empty). */
      machineId: opt(MachineId),
    }),
  ),
  'identity.set': method(
    obj({
      hostname: opt(Hostname),
      network: opt(
        obj({
          interface: str({ min: 1, max: 15, pattern: /^[A-Za-z0-9_.-]+$/ }),
          address: str({ pattern: /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/ }),
          gateway: opt(str({ pattern: /^\d{1,3}(\.\d{1,3}){3}$/ })),
          dns: opt(arr(str({ pattern: /^[0-9a-fA-F.:]+$/, max: 45 }), { max: 8 })),
          mtu: opt(int({ min: 576, max: 65535 })),
        }),
      ),
      clockEpochMs: opt(int({ min: 0 })),
      machineId: opt(MachineId),
      /**
       * The NIC's MAC inside the guest (virtio-net restores the template's from
       * the device state). Set on `network.interface` when given, else on the
       * first non-loopback interface; no NIC is a warning, not an error.
       */
      mac: opt(MacAddress),
      /** Base64 of random bytes from the host (at most 4 KiB decoded). */
      entropy: opt(str({ max: 5464, pattern: /^[A-Za-z0-9+/]*={0,2}$/ })),
      /**
       * The VM's peers on its tenant network, as `network.hosts` takes them:
       * a fork joining a network sends them here, one round trip fewer.
       */
      hosts: opt(PeerEntries),
    }),
    obj({ applied: arr(str()), warnings: arr(str()) }),
  ),
  /**
   * The VM's peers on its tenant network, replacing the previous list: the
   * agent writes them to the guest's /etc/hosts and to every container's, so
   * containers reach each other by name. hostd sends the whole list whenever
   * a VM joins or leaves the network.
   */
  'network.hosts': method(obj({ entries: PeerEntries }), obj({ written: int({ min: 0 }) })),
  'image.import': method(
    obj({ id: Digest, config: ImageConfig, layers: arr(obj({ diffId: Digest, size: int({ min: 0 }) }), { max: 256 }) }),
    obj({ id: Digest, complete: bool, missing: arr(Digest, { max: 256 }) }),
  ),
  'layer.put': method(
    obj({ diffId: Digest, size: int({ min: 0 }) }),
    obj({ diffId: Digest, skipped: bool, files: int({ min: 0 }), bytes: int({ min: 0 }) }),
    { in: true },
  ),
  'image.list': method(
    Empty,
    obj({ images: arr(obj({ id: Digest, layers: arr(Digest, { max: 256 }), config: ImageConfig }), { max: 4096 }) }),
  ),
  'image.remove': method(obj({ id: Digest }), obj({ removed: bool })),
  'container.create': method(
    obj({
      id: ContainerId,
      name: opt(Hostname),
      image: Digest,
      /** Replaces the image's Entrypoint. */
      command: opt(arr(Arg)),
      /** Replaces the image's Cmd. */
      args: opt(arr(Arg)),
      /** Added to (and overriding) the image's Env. */
      env: opt(arr(EnvVar)),
      workingDir: opt(str({ pattern: /^\// })),
      user: opt(str({ max: 256 })),
      limits: opt(Limits),
      /** Volumes hostd hot-plugged into the VM, mounted into the container. */
      volumes: opt(arr(VolumeMount, { max: 8 })),
      /** The main process gets a pseudo-terminal (its stdin, stdout and stderr); output is one stream, stdout. */
      tty: opt(bool),
      /** Keeps the main process's stdin open (a pipe, or the terminal) for `container.attach` to write to. */
      openStdin: opt(bool),
      /** The terminal's first size, when `tty`. */
      rows: opt(Rows),
      cols: opt(Cols),
      /**
       * Starts it too, in the same call (one round trip fewer than a
       * container.start after it). The result then has `started`; an older
       * agent ignores this and leaves the container created.
       */
      start: opt(bool),
    }),
    /**
     * `held`: it took the container held ahead (container.hold); its start only hands the command over.
     * `started`: what container.start would have answered, and the ms the start took (with `start`).
     */
    obj({ id: ContainerId, bundle: str(), held: opt(bool), started: opt(obj({ pid: int({ min: 1 }), container: opt(ContainerSummary), ms: int({ min: 0 }) })) }),
  ),
  /**
   * A throwaway container (the guest's busybox `true`, over the image's layers
   * when given and present) run and removed at once, so a freshly resumed
   * clone has crun's and the kernel's paths translated before a request needs
   * them (TCG). Leaves nothing: never listed, no state, mount or cgroup.
   */
  'container.rehearse': method(obj({ image: opt(Digest) }), obj({ ms: int({ min: 0 }), image: bool })),
  /**
   * Ready pool: sets up a container over `image` ahead of any request (rootfs,
   * namespaces, cgroup: crun run), its process forkd's launcher waiting for a
   * command; nothing of the image runs. The next container.create of the same
   * image whose OCI spec matches it (no terminal, stdin, volumes or limits;
   * the image's user) takes it over, and container.start hands the command
   * to it. Any other create gives it up. `held` false with `reason` when this
   * guest cannot hold one (no launcher or koffi, image absent).
   */
  'container.hold': method(obj({ image: Digest }), obj({ ms: int({ min: 0 }), held: bool, reason: opt(str({ max: 512 })) })),
  /** `container`: its summary as the start left it (so the host need not list the containers after it; older agents omit it). */
  'container.start': method(obj({ id: ContainerId }), obj({ id: ContainerId, pid: int({ min: 1 }), container: opt(ContainerSummary) })),
  'container.kill': method(obj({ id: ContainerId, signal: opt(str({ pattern: /^(SIG)?[A-Z0-9]+$|^\d{1,2}$/, max: 16 })) }), Empty),
  'container.wait': method(
    obj({ id: ContainerId }),
    obj({ exitCode: int(), signal: nullable(str({ max: 16 })), oomKilled: bool }),
  ),
  'container.delete': method(obj({ id: ContainerId, force: opt(bool) }), obj({ deleted: bool })),
  'container.list': method(Empty, obj({ containers: arr(ContainerSummary, { max: 4096 }) })),
  'container.stats': method(
    obj({ id: ContainerId }),
    obj({
      memory: obj({ currentBytes: int({ min: 0 }), maxBytes: nullable(int({ min: 0 })), oomKills: int({ min: 0 }) }),
      cpu: obj({ usageUsec: int({ min: 0 }), userUsec: int({ min: 0 }), systemUsec: int({ min: 0 }), throttledUsec: int({ min: 0 }) }),
      pids: obj({ current: int({ min: 0 }), max: nullable(int({ min: 0 })) }),
    }),
  ),
  'container.exec': method(
    obj({
      id: ContainerId,
      command: arr(Arg, { max: 4096 }),
      env: opt(arr(EnvVar)),
      workingDir: opt(str({ pattern: /^\// })),
      user: opt(str({ max: 256 })),
      /** When true the host sends stdin on channel `in` (and ends it). */
      stdin: opt(bool),
      /** The agent kills the process after this long. */
      timeoutMs: opt(int({ min: 1 })),
      /** A pseudo-terminal for the process: all its output comes on `out`. */
      tty: opt(bool),
      /** Names a tty exec for `container.resize` (unique among the container's running execs). */
      execId: opt(ExecId),
      rows: opt(Rows),
      cols: opt(Cols),
    }),
    obj({ exitCode: int(), signal: nullable(str({ max: 16 })), timedOut: bool }),
    { in: true, out: true, err: true },
  ),
  /**
   * The main process's stdio. With `logs`, its output so far is replayed first
   * (from the container log, so nothing printed before the attach is lost);
   * with `stream`, output continues live until the process exits. `in` writes
   * to its stdin (the container needs `openStdin`); the end of `in` closes that
   * stdin (a half-close) while output keeps coming. The reply comes after the
   * last output: `exited` with the exit status, or not (stream false, or cancelled).
   */
  'container.attach': method(
    obj({ id: ContainerId, logs: opt(bool), stream: opt(bool), stdin: opt(bool) }),
    obj({ exited: bool, exitCode: nullable(int()), signal: nullable(str({ max: 16 })), oomKilled: bool }),
    { in: true, out: true, err: true },
  ),
  /** Sets the terminal size of the main process (no execId) or of the tty exec `execId`. */
  'container.resize': method(obj({ id: ContainerId, execId: opt(ExecId), rows: Rows, cols: Cols }), Empty),
  'container.logs': method(
    obj({ id: ContainerId, follow: opt(bool), tail: opt(int({ min: 0 })), sinceMs: opt(int({ min: 0 })) }),
    obj({ lines: int({ min: 0 }) }),
    { out: true },
  ),
  /**
   * A TCP connection to 127.0.0.1:port inside the guest (the container shares
   * the VM's network namespace): `in` carries the host's bytes (its end is a
   * half-close), `out` the guest's. The reply comes when the guest's socket closed.
   */
  'port.connect': method(
    obj({ port: int({ min: 1, max: 65535 }) }),
    obj({ bytesIn: int({ min: 0 }), bytesOut: int({ min: 0 }) }),
    { in: true, out: true },
  ),
} as const;

export type Methods = typeof METHODS;
export type Method = keyof Methods;
export type Params<M extends Method> = Infer<Methods[M]['params']>;
export type Result<M extends Method> = Infer<Methods[M]['result']>;

export function isMethod(v: unknown): v is Method {
  return typeof v === 'string' && Object.hasOwn(METHODS, v);
}

// ---- message headers ------------------------------------------------------

export const CHANNELS = ['in', 'out', 'err'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface WireError {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

export type Message =
  | { t: 'req'; id: number; method: string; params: unknown }
  | { t: 'res'; id: number; result: unknown }
  | { t: 'err'; id: number; error: WireError }
  | { t: 'data'; id: number; ch: Channel; end?: boolean; payload: Buffer }
  | { t: 'credit'; id: number; ch: Channel; bytes: number }
  | { t: 'cancel'; id: number };

const RequestId = int({ min: 1, max: LIMITS.maxRequestId });
/** id 0 in an `err` reply is a connection-level error (not tied to a request). */
const ReplyId = int({ min: 0, max: LIMITS.maxRequestId });
const Chan = lit(...CHANNELS);

const HEADERS = {
  req: obj({ id: RequestId, method: str({ max: 64 }) }),
  res: obj({ id: RequestId }),
  err: obj({
    id: ReplyId,
    error: obj({ code: str({ max: 64 }), message: str({ max: 64 * 1024 }) }),
  }),
  data: obj({ id: RequestId, ch: Chan, end: opt(bool) }),
  credit: obj({ id: RequestId, ch: Chan, bytes: int({ min: 1, max: LIMITS.maxWindowBytes }) }),
  cancel: obj({ id: RequestId }),
} as const;

/**
 * Checks a decoded frame's header and turns it into a Message. The method's own
 * params/result are checked later, by whoever knows which method the id is.
 */
export function parseMessage(header: Record<string, unknown>, payload: Buffer): { ok: true; msg: Message } | { ok: false; error: string } {
  const t = header['t'];
  if (typeof t !== 'string' || !Object.hasOwn(HEADERS, t)) return { ok: false, error: `unknown message type ${JSON.stringify(t)?.slice(0, 40)}` };
  const kind = t as keyof typeof HEADERS;
  const e = HEADERS[kind].check(header, '$');
  if (e) return { ok: false, error: e };
  if (kind !== 'data' && payload.length > 0) return { ok: false, error: `a ${kind} message carries no payload` };
  if (kind === 'data') return { ok: true, msg: { ...(header as Omit<Extract<Message, { t: 'data' }>, 'payload'>), payload } };
  if (kind === 'req' && !Object.hasOwn(header, 'params')) return { ok: false, error: '$.params: required' };
  if (kind === 'res' && !Object.hasOwn(header, 'result')) return { ok: false, error: '$.result: required' };
  if (kind === 'err') {
    const detail = (header['error'] as Record<string, unknown>)['detail'];
    if (detail !== undefined && (typeof detail !== 'object' || detail === null || Array.isArray(detail))) return { ok: false, error: '$.error.detail: expected object' };
  }
  return { ok: true, msg: header as Message };
}

export function checkParams<M extends Method>(method: M, params: unknown): { ok: true; value: Params<M> } | { ok: false; error: string } {
  return validate(METHODS[method].params as Schema<Params<M>>, params, '$.params');
}

export function checkResult<M extends Method>(method: M, result: unknown): { ok: true; value: Result<M> } | { ok: false; error: string } {
  return validate(METHODS[method].result as Schema<Result<M>>, result, '$.result');
}

/**
 * The decoder both ends read with: frames in, only well-formed messages out.
 * A bad frame or a malformed message is one fault, reported as text.
 */
export function messageDecoder(onMessage: (msg: Message) => void, onFault: (why: string) => void): FrameDecoder {
  return new FrameDecoder(
    (f) => {
      const parsed = parseMessage(f.header, f.payload);
      if (!parsed.ok) return onFault(`malformed message: ${parsed.error}`);
      onMessage(parsed.msg);
    },
    (e) => onFault(e.message),
  );
}
