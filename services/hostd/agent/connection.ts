// One connection to one guest agent: a unix socket (libvirt's side of the
// virtio-serial port), the hello handshake, requests with deadlines, and the
// stream channels of streaming methods. Every byte from the guest is untrusted:
// any framing fault, malformed header, result that fails its schema, reply to
// an id never asked, data beyond granted credit or a frame left half-sent is a
// protocol error; the connection closes and every pending call is rejected with
// ERR_GUEST_PROTOCOL. Nothing the guest sends can throw out of a socket handler.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import {
  checkResult,
  encodeFrame,
  FrameDecoder,
  LIMITS,
  METHODS,
  messageDecoder,
  PROTOCOL_VERSION,
  RecvWindow,
  SendWindow,
  toForkdCode,
  type Channel,
  type Message,
  type Method,
  type Params,
  type Result,
} from '../../contracts/agent-protocol/index.js';
import { ForkdError } from '../../contracts/errors.js';

export interface CallOptions {
  /** Deadline for the reply; on expiry the call rejects with ERR_GUEST_TIMEOUT and is cancelled on the guest. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ConnectionOptions {
  /** A frame that starts arriving must be complete within this long (default 10 s). */
  frameStallMs?: number;
  /** Frames ignored while waiting for the hello reply (stale output of an earlier session; default 4096). */
  maxStaleFrames?: number;
}

/** A call in flight. Streams exist only for the channels its method declares. */
export interface Call<M extends Method> {
  readonly id: number;
  readonly result: Promise<Result<M>>;
  readonly out: Readable | null;
  readonly err: Readable | null;
  /** Sends input on channel `in` (chunked, respecting credit); resolves once sent. */
  send(data: Uint8Array): Promise<void>;
  /** Ends channel `in`. */
  end(): void;
  cancel(): void;
}

interface Pending {
  method: Method;
  resolve: (v: unknown) => void;
  reject: (e: ForkdError) => void;
  timer: NodeJS.Timeout | null;
  streams: Partial<Record<'out' | 'err', { readable: Readable; window: RecvWindow; owed: number }>>;
  input: SendWindow | null;
  inputEnded: boolean;
  cleanup: () => void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Methods whose replies legitimately take as long as a container or a transfer. */
const UNBOUNDED: ReadonlySet<Method> = new Set(['container.wait', 'container.exec', 'container.attach', 'container.logs', 'layer.put', 'port.connect']);

export class AgentConnection {
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending>();
  /** Ids cancelled or timed out recently: their late frames are dropped, not protocol errors. */
  private readonly forgotten = new Set<number>();
  private nextId = 1;
  private closedWith: ForkdError | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private handshake: { nonce: string; id: number; stale: number; done: (e: ForkdError | null, agentVersion?: string) => void } | null = null;
  private readonly closeListeners: Array<(e: ForkdError) => void> = [];
  agentVersion = '';

  private constructor(
    private readonly socket: Socket,
    private readonly opts: Required<ConnectionOptions>,
  ) {
    this.decoder = messageDecoder((msg) => this.onMessage(msg), (why) => this.protocolError(why));
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      this.armStallTimer();
    });
    socket.on('error', (e) => this.close(new ForkdError('ERR_GUEST', `agent socket error: ${e.message}`, { cause: e })));
    socket.on('close', () => this.close(new ForkdError('ERR_GUEST', 'the agent connection closed', { detail: { reason: 'disconnected' } })));
  }

  /** Connects and performs the hello handshake within `timeoutMs`. */
  static open(socketPath: string, timeoutMs: number, opts: ConnectionOptions = {}): Promise<AgentConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const conn = new AgentConnection(socket, { frameStallMs: opts.frameStallMs ?? 10_000, maxStaleFrames: opts.maxStaleFrames ?? 4096 });
      const timer = setTimeout(() => {
        conn.close(new ForkdError('ERR_GUEST_TIMEOUT', `agent did not answer hello within ${timeoutMs} ms`));
      }, timeoutMs);
      const nonce = randomBytes(12).toString('hex');
      const id = conn.nextId++;
      conn.handshake = {
        nonce,
        id,
        stale: 0,
        done: (e, agentVersion) => {
          clearTimeout(timer);
          conn.handshake = null;
          if (e) {
            conn.close(e);
            reject(e);
          } else {
            conn.agentVersion = agentVersion ?? '';
            resolve(conn);
          }
        },
      };
      conn.onClose((e) => conn.handshake?.done(e));
      socket.once('connect', () => {
        conn.write({ t: 'req', id, method: 'hello', params: { protocol: PROTOCOL_VERSION, nonce, client: 'forkd-hostd' } });
      });
    });
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  onClose(f: (e: ForkdError) => void): void {
    if (this.closedWith) f(this.closedWith);
    else this.closeListeners.push(f);
  }

  call<M extends Method>(method: M, params: Params<M>, opts: CallOptions = {}): Promise<Result<M>> {
    const c = this.start(method, params, opts);
    return c.result;
  }

  /** Starts a call and returns its streams; `result` settles after all output arrived. */
  start<M extends Method>(method: M, params: Params<M>, opts: CallOptions = {}): Call<M> {
    const spec = METHODS[method];
    const streams = spec.streams as { in?: boolean; out?: boolean; err?: boolean };
    const id = this.allocId();
    let resolveFn!: (v: Result<M>) => void;
    let rejectFn!: (e: ForkdError) => void;
    const result = new Promise<Result<M>>((res, rej) => {
      resolveFn = res;
      rejectFn = rej;
    });
    // A caller that only reads streams must not get an unhandled rejection.
    result.catch(() => undefined);
    const p: Pending = {
      method,
      resolve: resolveFn as (v: unknown) => void,
      reject: rejectFn,
      timer: null,
      streams: {},
      input: streams.in ? new SendWindow() : null,
      inputEnded: false,
      cleanup: () => undefined,
    };
    for (const ch of ['out', 'err'] as const) {
      if (!streams[ch]) continue;
      const entry = { readable: null as unknown as Readable, window: new RecvWindow(), owed: 0 };
      entry.readable = new Readable({
        highWaterMark: LIMITS.chunkBytes,
        read: () => {
          if (entry.owed > 0) {
            const owed = entry.owed;
            entry.owed = 0;
            this.grant(id, ch, entry.window.consumed(owed));
          }
        },
      });
      p.streams[ch] = entry;
    }
    const call: Call<M> = {
      id,
      result,
      out: p.streams.out?.readable ?? null,
      err: p.streams.err?.readable ?? null,
      send: (data) => this.sendInput(id, p, data),
      end: () => {
        if (!p.input || p.inputEnded || !this.pending.has(id)) return;
        p.inputEnded = true;
        this.write({ t: 'data', id, ch: 'in', end: true });
      },
      cancel: () => this.cancel(id, new ForkdError('ERR_GUEST', `${method} cancelled`, { detail: { wireCode: 'ERR_CANCELLED' } })),
    };
    if (this.closedWith) {
      this.settle(p, this.closedWith);
      return call;
    }
    if (this.pending.size >= LIMITS.maxInFlightRequests) {
      this.settle(p, new ForkdError('ERR_GUEST', `more than ${LIMITS.maxInFlightRequests} agent calls in flight`, { detail: { wireCode: 'ERR_BUSY' } }));
      return call;
    }
    const timeoutMs = opts.timeoutMs ?? (UNBOUNDED.has(method) ? undefined : DEFAULT_TIMEOUT_MS);
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      p.timer = setTimeout(() => this.cancel(id, new ForkdError('ERR_GUEST_TIMEOUT', `agent did not answer ${method} within ${timeoutMs} ms`)), timeoutMs);
    }
    if (opts.signal) {
      const onAbort = () => call.cancel();
      if (opts.signal.aborted) queueMicrotask(onAbort);
      else opts.signal.addEventListener('abort', onAbort, { once: true });
      p.cleanup = () => opts.signal?.removeEventListener('abort', onAbort);
    }
    this.pending.set(id, p);
    try {
      this.write({ t: 'req', id, method, params });
    } catch (e) {
      this.pending.delete(id);
      this.settle(p, new ForkdError('ERR_VALIDATION', `cannot encode ${method}: ${(e as Error).message}`));
    }
    return call;
  }

  close(reason: ForkdError = new ForkdError('ERR_GUEST', 'the agent connection was closed by hostd')): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.socket.destroy();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      this.settle(p, reason);
    }
    for (const f of this.closeListeners.splice(0)) {
      try {
        f(reason);
      } catch {
        // listeners must not break teardown
      }
    }
  }

  // ---- internals ------------------------------------------------------------

  private allocId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= LIMITS.maxRequestId ? 1 : this.nextId + 1;
    return id;
  }

  private write(header: object, payload?: Uint8Array): void {
    if (this.closedWith) return;
    this.socket.write(encodeFrame(header, payload));
  }

  private grant(id: number, ch: Channel, bytes: number): void {
    if (bytes > 0 && this.pending.has(id)) this.write({ t: 'credit', id, ch, bytes });
  }

  private async sendInput(id: number, p: Pending, data: Uint8Array): Promise<void> {
    if (!p.input) throw new ForkdError('ERR_VALIDATION', `${p.method} takes no input stream`);
    if (p.inputEnded) throw new ForkdError('ERR_VALIDATION', 'input already ended');
    let off = 0;
    while (off < data.byteLength) {
      if (!this.pending.has(id)) throw this.closedWith ?? new ForkdError('ERR_GUEST', `${p.method} finished before its input was sent`);
      const n = await p.input.take(Math.min(LIMITS.chunkBytes, data.byteLength - off));
      if (n === 0) throw this.closedWith ?? new ForkdError('ERR_GUEST', `${p.method} finished before its input was sent`);
      this.write({ t: 'data', id, ch: 'in' }, data.subarray(off, off + n));
      off += n;
    }
    if (this.socket.writableNeedDrain) await new Promise<void>((r) => this.socket.once('drain', () => r()));
  }

  private cancel(id: number, reason: ForkdError): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.forget(id);
    this.write({ t: 'cancel', id });
    this.settle(p, reason);
  }

  private forget(id: number): void {
    this.pending.delete(id);
    this.forgotten.add(id);
    if (this.forgotten.size > 1024) this.forgotten.delete(this.forgotten.values().next().value as number);
  }

  private settle(p: Pending, outcome: ForkdError | { result: unknown }): void {
    if (p.timer) clearTimeout(p.timer);
    p.cleanup();
    p.input?.close();
    for (const s of Object.values(p.streams)) if (s && !s.readable.readableEnded) s.readable.push(null);
    if (outcome instanceof ForkdError) p.reject(outcome);
    else p.resolve(outcome.result);
  }

  private protocolError(message: string): void {
    this.close(new ForkdError('ERR_GUEST_PROTOCOL', `agent protocol error: ${message}`));
  }

  private armStallTimer(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (this.closedWith || this.decoder.pendingBytes === 0) return;
    this.stallTimer = setTimeout(() => {
      this.protocolError(`a frame stayed incomplete for ${this.opts.frameStallMs} ms (${this.decoder.pendingBytes} bytes buffered)`);
    }, this.opts.frameStallMs);
  }

  private onMessage(msg: Message): void {
    if (this.closedWith) return;
    if (this.handshake) return this.onHandshakeMessage(msg);
    switch (msg.t) {
      case 'req':
      case 'cancel':
        return this.protocolError(`the agent sent a ${msg.t} message`);
      case 'err':
        if (msg.id === 0) return this.close(new ForkdError('ERR_GUEST_PROTOCOL', `agent closed the session: ${msg.error.code}: ${msg.error.message}`));
        break;
      default:
        break;
    }
    const p = this.pending.get(msg.id);
    if (!p) {
      if (this.forgotten.has(msg.id)) return;
      return this.protocolError(`${msg.t} for unknown request id ${msg.id}`);
    }
    switch (msg.t) {
      case 'res': {
        const r = checkResult(p.method, msg.result);
        if (!r.ok) return this.protocolError(`bad ${p.method} result: ${r.error}`);
        this.pending.delete(msg.id);
        return this.settle(p, { result: r.value });
      }
      case 'err': {
        this.pending.delete(msg.id);
        const code = toForkdCode(msg.error.code);
        return this.settle(p, new ForkdError(code, msg.error.message, { detail: { ...(msg.error.detail ?? {}), wireCode: msg.error.code, method: p.method } }));
      }
      case 'data': {
        if (msg.ch === 'in') return this.protocolError(`the agent sent data on channel in (request ${msg.id})`);
        const s = p.streams[msg.ch];
        if (!s) return this.protocolError(`${p.method} has no ${msg.ch} stream`);
        if (!s.window.receive(msg.payload.length)) return this.protocolError(`the agent overran its credit on ${p.method} ${msg.ch}`);
        if (s.readable.readableEnded || s.readable.destroyed) return;
        if (msg.payload.length > 0) {
          if (s.readable.push(msg.payload)) this.grant(msg.id, msg.ch, s.window.consumed(msg.payload.length));
          else s.owed += msg.payload.length;
        }
        if (msg.end) s.readable.push(null);
        return;
      }
      case 'credit': {
        if (msg.ch !== 'in' || !p.input) return this.protocolError(`credit for a channel the host does not send (${p.method} ${msg.ch})`);
        if (!p.input.grant(msg.bytes)) return this.protocolError('the agent granted more than the maximum window');
        return;
      }
    }
  }

  private onHandshakeMessage(msg: Message): void {
    const hs = this.handshake!;
    const isHelloReply = (msg.t === 'res' || msg.t === 'err') && msg.id === hs.id;
    if (!isHelloReply) {
      // Output the agent wrote for an earlier connection may still be in the pipe.
      if (++hs.stale > this.opts.maxStaleFrames) hs.done(new ForkdError('ERR_GUEST_PROTOCOL', `no hello reply among ${this.opts.maxStaleFrames} frames`));
      return;
    }
    if (msg.t === 'err') {
      return hs.done(
        new ForkdError('ERR_GUEST_PROTOCOL', `agent refused hello: ${msg.error.code}: ${msg.error.message}`, {
          detail: { wireCode: msg.error.code, hostProtocol: PROTOCOL_VERSION, ...(msg.error.detail ?? {}) },
        }),
      );
    }
    if (msg.t !== 'res') return;
    const r = checkResult('hello', msg.result);
    if (!r.ok) return hs.done(new ForkdError('ERR_GUEST_PROTOCOL', `bad hello reply: ${r.error}`));
    if (r.value.nonce !== hs.nonce) {
      if (++hs.stale > this.opts.maxStaleFrames) hs.done(new ForkdError('ERR_GUEST_PROTOCOL', 'hello replies carry the wrong nonce'));
      return;
    }
    if (r.value.protocol !== PROTOCOL_VERSION) {
      return hs.done(
        new ForkdError('ERR_GUEST_PROTOCOL', `agent speaks protocol ${r.value.protocol}, hostd speaks ${PROTOCOL_VERSION}: rebuild the guest image`, {
          detail: { agentProtocol: r.value.protocol, hostProtocol: PROTOCOL_VERSION, agentVersion: r.value.agentVersion },
        }),
      );
    }
    hs.done(null, r.value.agentVersion);
  }
}
