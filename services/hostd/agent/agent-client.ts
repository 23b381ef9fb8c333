// hostd's client for one guest agent. The socket exists as soon as QEMU starts,
// long before the guest agent opens its end of the port, and bytes written
// before that may be lost: waitReady() therefore retries the whole handshake on
// a fresh connection until the agent answers hello and ping, or the deadline
// passes. After that, call() sends typed requests with per-call deadlines, and
// exec/logs/putLayer/importImage wrap the streaming methods.

import { createReadStream } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkParams, parseLogLine, type LogRecord, type Method, type Params, type Result } from '../../contracts/agent-protocol/index.js';
import { ForkdError } from '../../contracts/errors.js';
import { AgentConnection, type Call, type CallOptions, type ConnectionOptions } from './connection.js';

export type { CallOptions } from './connection.js';

export interface AgentClientOptions extends ConnectionOptions {
  /** Deadline of one handshake attempt inside waitReady (grows from this, default 1 s, up to 4×). */
  attemptTimeoutMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** A layer as the host image store describes it. */
export interface HostLayer {
  diffId: string;
  size: number;
  /** Uncompressed tar on the host. */
  path: string;
}

export interface HostImage {
  id: string;
  config: Params<'image.import'>['config'];
  layers: HostLayer[];
  /**
   * Where a layer the guest lacks is read from (hostd's blob cache, which may
   * fetch it); absent: each layer's `path`. Only asked for the layers sent.
   */
  resolveLayer?: (layer: HostLayer) => Promise<HostLayer>;
}

export interface ExecHandle {
  /** Writable only when `stdin: true` was requested; ending it ends the process's stdin. */
  stdin: Writable | null;
  stdout: Readable;
  stderr: Readable;
  result: Promise<Result<'container.exec'>>;
  cancel(): void;
}

export interface AttachHandle {
  /** Writable only when `stdin: true` was requested; ending it is the half-close of the process's stdin. */
  stdin: Writable | null;
  stdout: Readable;
  stderr: Readable;
  result: Promise<Result<'container.attach'>>;
  cancel(): void;
}

export interface PortConnectHandle {
  /** Bytes to the guest's socket; ending it half-closes that socket. */
  input: Writable;
  /** Bytes from the guest's socket; ends when the guest side closed. */
  output: Readable;
  result: Promise<Result<'port.connect'>>;
  cancel(): void;
}

export interface LogsHandle {
  records: AsyncIterable<LogRecord>;
  result: Promise<Result<'container.logs'>>;
  cancel(): void;
}

export class AgentClient {
  private conn: AgentConnection | null = null;
  private closedByUser = false;

  constructor(
    readonly socketPath: string,
    private readonly opts: AgentClientOptions = {},
  ) {}

  /** Connects (retrying) and resolves once the agent answered hello and ping. */
  static async connect(socketPath: string, opts: AgentClientOptions & { timeoutMs: number }): Promise<AgentClient> {
    const c = new AgentClient(socketPath, opts);
    await c.waitReady({ timeoutMs: opts.timeoutMs });
    return c;
  }

  get connected(): boolean {
    return this.conn !== null && !this.conn.closed;
  }

  get agentVersion(): string {
    return this.conn?.agentVersion ?? '';
  }

  /**
   * Retries connect + hello + ping on fresh connections until one succeeds or
   * `timeoutMs` passes (ERR_GUEST_TIMEOUT, naming the last failure). A
   * protocol-version mismatch fails at once: retrying cannot fix it.
   */
  async waitReady({ timeoutMs }: { timeoutMs: number }): Promise<{ agentVersion: string; attempts: number; ms: number }> {
    if (this.closedByUser) throw new ForkdError('ERR_GUEST', 'the agent client is closed');
    const t0 = Date.now();
    const deadline = t0 + timeoutMs;
    let attempt = 0;
    let last: unknown = null;
    let attemptMs = this.opts.attemptTimeoutMs ?? 1000;
    if (this.connected) {
      try {
        await this.conn!.call('ping', {}, { timeoutMs: Math.min(attemptMs, timeoutMs) });
        return { agentVersion: this.agentVersion, attempts: 0, ms: Date.now() - t0 };
      } catch (e) {
        last = e;
        this.conn!.close();
      }
    }
    while (Date.now() < deadline) {
      attempt++;
      const left = deadline - Date.now();
      try {
        const conn = await AgentConnection.open(this.socketPath, Math.min(attemptMs, left), this.opts);
        try {
          await conn.call('ping', {}, { timeoutMs: Math.min(attemptMs, Math.max(1, deadline - Date.now())) });
        } catch (e) {
          conn.close();
          throw e;
        }
        if (this.closedByUser) {
          conn.close();
          throw new ForkdError('ERR_GUEST', 'the agent client is closed');
        }
        this.conn = conn;
        const ms = Date.now() - t0;
        this.opts.log?.('agent ready', { socket: this.socketPath, attempts: attempt, ms, agentVersion: conn.agentVersion });
        return { agentVersion: conn.agentVersion, attempts: attempt, ms };
      } catch (e) {
        last = e;
        if (e instanceof ForkdError && e.detail?.['agentProtocol'] !== undefined) throw e;
        if (e instanceof ForkdError && e.detail?.['wireCode'] === 'ERR_VERSION') throw e;
        if (this.closedByUser) throw e;
      }
      attemptMs = Math.min(attemptMs * 1.5, (this.opts.attemptTimeoutMs ?? 1000) * 4);
      const pause = Math.min(100 * attempt, 500, Math.max(0, deadline - Date.now()));
      if (pause > 0) await sleep(pause);
    }
    throw new ForkdError('ERR_GUEST_TIMEOUT', `agent at ${this.socketPath} not ready after ${timeoutMs} ms (${attempt} attempts; last: ${(last as Error | null)?.message ?? 'none'})`, {
      cause: last,
      detail: { attempts: attempt },
    });
  }

  /** One typed request. Params are checked against the protocol schema before sending. */
  async call<M extends Method>(method: M, params: Params<M>, opts: CallOptions = {}): Promise<Result<M>> {
    return this.start(method, params, opts).result;
  }

  /**
   * Runs a command in a container; stdout/stderr are byte streams with bounded
   * buffering. Consume (or destroy) both: the guest stops sending when the host
   * stops reading, so an unread stream stalls the process until cancel().
   */
  exec(params: Params<'container.exec'>, opts: CallOptions = {}): ExecHandle {
    return withStdio(this.start('container.exec', params, opts), params.stdin === true);
  }

  /** The main process's stdio (container.attach); like exec, consume both outputs. */
  attach(params: Params<'container.attach'>, opts: CallOptions = {}): AttachHandle {
    return withStdio(this.start('container.attach', params, opts), params.stdin === true);
  }

  /** Container logs as parsed records; with `follow` they continue until the container exits or cancel(). */
  logs(params: Params<'container.logs'>, opts: CallOptions = {}): LogsHandle {
    const c = this.start('container.logs', params, opts);
    const out = c.out!;
    async function* records(): AsyncGenerator<LogRecord> {
      let rest = '';
      try {
        for await (const chunk of out as AsyncIterable<Buffer>) {
          rest += chunk.toString('utf8');
          let nl: number;
          while ((nl = rest.indexOf('\n')) !== -1) {
            const rec = parseLogLine(rest.slice(0, nl));
            rest = rest.slice(nl + 1);
            if (rec) yield rec;
          }
          if (rest.length > 1024 * 1024) throw new ForkdError('ERR_GUEST_PROTOCOL', 'a log line longer than 1 MiB');
        }
      } finally {
        // A consumer that stops early (break) must not leave a follow running on the guest.
        c.cancel();
      }
    }
    return { records: records(), result: c.result, cancel: () => c.cancel() };
  }

  /** A TCP connection to 127.0.0.1:port in the guest (port publishing): write to `input`, read `output`. */
  portConnect(port: number, opts: CallOptions = {}): PortConnectHandle {
    const c = this.start('port.connect', { port }, opts);
    const input = new Writable({
      write: (chunk: Buffer, _enc, cb) => c.send(chunk).then(() => cb(), (e: Error) => cb(e)),
      final: (cb) => {
        c.end();
        cb();
      },
    });
    input.on('error', () => undefined);
    return { input, output: c.out!, result: c.result, cancel: () => c.cancel() };
  }

  /** Streams one layer tar to the guest, which verifies its sha256 against diffId. */
  async putLayer(layer: HostLayer | { diffId: string; size: number; source: AsyncIterable<Uint8Array> }, opts: CallOptions = {}): Promise<Result<'layer.put'>> {
    const c = this.start('layer.put', { diffId: layer.diffId, size: layer.size }, opts);
    const source: AsyncIterable<Uint8Array> = 'path' in layer ? createReadStream(layer.path, { highWaterMark: 64 * 1024 }) : layer.source;
    let pumpError: unknown = null;
    const pump = (async () => {
      try {
        for await (const chunk of source) await c.send(chunk);
        c.end();
      } catch (e) {
        // ForkdErrors come from send() after the call ended; the call's own outcome says why.
        if (!(e instanceof ForkdError)) pumpError = new ForkdError('ERR_INTERNAL', `reading layer ${layer.diffId}: ${(e as Error).message}`, { cause: e });
        c.cancel();
      } finally {
        if (source instanceof Readable) source.destroy();
      }
    })();
    // The reply may come before all input is sent (layer already present): the pump then stops quietly.
    try {
      const result = await c.result;
      await pump;
      return result;
    } catch (e) {
      await pump;
      throw pumpError ?? e;
    }
  }

  /** Imports an image: sends only the layers the guest lacks, then records the image. */
  async importImage(image: HostImage, opts: CallOptions = {}): Promise<{ id: string; sent: string[]; present: string[] }> {
    const layers = image.layers.map((l) => ({ diffId: l.diffId, size: l.size }));
    const first = await this.call('image.import', { id: image.id, config: image.config, layers }, opts);
    const sent: string[] = [];
    for (const diffId of first.missing) {
      const layer = image.layers.find((l) => l.diffId === diffId);
      if (!layer) throw new ForkdError('ERR_GUEST_PROTOCOL', `agent asked for a layer the image does not have: ${diffId}`);
      const r = await this.putLayer(image.resolveLayer ? await image.resolveLayer(layer) : layer, opts);
      if (!r.skipped) sent.push(diffId);
    }
    const done = first.complete ? first : await this.call('image.import', { id: image.id, config: image.config, layers }, opts);
    if (!done.complete) throw new ForkdError('ERR_GUEST', `image ${image.id} still misses layers after upload: ${done.missing.join(', ')}`);
    return { id: image.id, sent, present: layers.map((l) => l.diffId).filter((d) => !sent.includes(d)) };
  }

  /** Closes the connection; pending calls reject with ERR_GUEST. */
  close(): void {
    this.closedByUser = true;
    this.conn?.close();
    this.conn = null;
  }

  private start<M extends Method>(method: M, params: Params<M>, opts: CallOptions) {
    const v = checkParams(method, params);
    if (!v.ok) throw new ForkdError('ERR_VALIDATION', `${method}: ${v.error}`, { field: v.error.split(':')[0] });
    if (!this.conn || this.conn.closed) throw new ForkdError('ERR_GUEST', `agent at ${this.socketPath} is not connected (call waitReady first)`);
    return this.conn.start(method, params, opts);
  }
}

/** A process call's streams (exec, attach): stdin as a Writable when asked for (its end is the half-close), else ended at once. */
function withStdio<M extends 'container.exec' | 'container.attach'>(c: Call<M>, wantsStdin: boolean) {
  let stdin: Writable | null = null;
  if (wantsStdin) {
    stdin = new Writable({
      write: (chunk: Buffer, _enc, cb) => c.send(chunk).then(() => cb(), (e: Error) => cb(e)),
      final: (cb) => {
        c.end();
        cb();
      },
    });
    // Writes after the process exited fail; that must not crash hostd.
    stdin.on('error', () => undefined);
  } else {
    c.end();
  }
  return { stdin, stdout: c.out!, stderr: c.err!, result: c.result, cancel: () => c.cancel() };
}
