// One host session on the agent's side of the channel: decodes frames, requires
// hello first, validates params against the protocol table, runs handlers with
// their streams and credit, and answers every request exactly once. Faults in
// what the host sends end the session (an `err` with id 0, then a reset): the
// host will reconnect and say hello again. Nothing here throws into the
// transport's data handler.

import {
  AgentError,
  checkParams,
  encodeFrame,
  FrameDecoder,
  isMethod,
  LIMITS,
  METHODS,
  messageDecoder,
  PROTOCOL_VERSION,
  RecvWindow,
  SendWindow,
  type Message,
  type Method,
  type Params,
  type Result,
} from '../contracts/agent-protocol/index.js';
import type { CallContext, Handler, HandlerTable, Log } from './handler.js';

/** How bytes leave the agent; writes keep their order. */
export interface Link {
  write(bytes: Buffer): void;
  /** Ends the underlying connection where there is one (sockets); a no-op for the virtio port. */
  end(): void;
}

interface ActiveCall {
  method: Method;
  abort: AbortController;
  out: Partial<Record<'out' | 'err', SendWindow>>;
  input: InputQueue | null;
}

export interface SessionOptions {
  agentVersion: string;
  handlers: HandlerTable;
  log: Log;
}

export class Session {
  private readonly decoder: FrameDecoder;
  private readonly calls = new Map<number, ActiveCall>();
  private greeted = false;
  private ended = false;

  constructor(
    private readonly link: Link,
    private readonly opts: SessionOptions,
  ) {
    this.decoder = messageDecoder((msg) => this.onMessage(msg), (why) => this.fault(why));
  }

  push(chunk: Buffer): void {
    if (!this.ended) this.decoder.push(chunk);
  }

  /** The host went away: abort every call, forget the handshake, start clean. */
  reset(reason: string): void {
    this.abortCalls(reason);
    this.greeted = false;
    this.decoder.reset();
  }

  private abortCalls(reason: string): void {
    for (const [, c] of this.calls) c.abort.abort(new AgentError('ERR_CANCELLED', reason));
    this.calls.clear();
  }

  /** Final: the connection is gone for good (sockets). */
  end(reason: string): void {
    this.reset(reason);
    this.ended = true;
  }

  get inFlight(): number {
    return this.calls.size;
  }

  private send(header: object, payload?: Buffer): void {
    if (this.ended) return;
    this.link.write(encodeFrame(header, payload));
  }

  private fault(message: string): void {
    this.opts.log('host protocol error; resetting the session', { error: message });
    this.send({ t: 'err', id: 0, error: { code: 'ERR_PROTOCOL', message } });
    this.reset(`protocol error: ${message}`);
    this.link.end();
  }

  private onMessage(msg: Message): void {
    switch (msg.t) {
      case 'req':
        return this.onRequest(msg.id, msg.method, msg.params);
      case 'cancel': {
        const c = this.calls.get(msg.id);
        if (c) c.abort.abort(new AgentError('ERR_CANCELLED', `${c.method} cancelled by the host`));
        return;
      }
      case 'credit': {
        const c = this.calls.get(msg.id);
        if (!c) return; // the call may have just finished
        if (msg.ch === 'in') return this.fault('credit for channel in, which the host sends');
        const w = c.out[msg.ch];
        if (!w) return this.fault(`${c.method} has no ${msg.ch} stream`);
        if (!w.grant(msg.bytes)) return this.fault('credit beyond the maximum window');
        return;
      }
      case 'data': {
        const c = this.calls.get(msg.id);
        if (!c) return; // input racing the end of its call
        if (msg.ch !== 'in' || !c.input) return this.fault(`${c.method} takes no input on ${msg.ch}`);
        if (!c.input.push(msg.payload, msg.end === true)) return this.fault(`the host overran its credit on ${c.method}`);
        return;
      }
      case 'res':
      case 'err':
        return this.fault(`the host sent a ${msg.t} message`);
    }
  }

  private onRequest(id: number, method: string, params: unknown): void {
    if (this.calls.has(id)) return this.fault(`request id ${id} is already in flight`);
    if (method === 'hello') return this.onHello(id, params);
    if (!this.greeted) return this.replyError(id, new AgentError('ERR_NO_HELLO', `${method.slice(0, 64)} before hello`));
    if (!isMethod(method)) return this.replyError(id, new AgentError('ERR_UNKNOWN_METHOD', `unknown method ${JSON.stringify(method)}`));
    const v = checkParams(method, params);
    if (!v.ok) return this.replyError(id, new AgentError('ERR_INVALID_PARAMS', `${method}: ${v.error}`, { field: v.error.split(':')[0] }));
    const handler = this.opts.handlers[method] as Handler<Method> | undefined;
    if (!handler) return this.replyError(id, new AgentError('ERR_UNKNOWN_METHOD', `${method} is not implemented by this agent`));
    const streams = METHODS[method].streams as { in?: boolean; out?: boolean; err?: boolean };
    const streaming = streams.in || streams.out || streams.err;
    if (this.calls.size >= LIMITS.maxInFlightRequests) return this.replyError(id, new AgentError('ERR_BUSY', 'too many requests in flight'));
    if (streaming && [...this.calls.values()].filter((c) => c.input || c.out.out || c.out.err).length >= LIMITS.maxInFlightStreams) {
      return this.replyError(id, new AgentError('ERR_BUSY', `more than ${LIMITS.maxInFlightStreams} streaming requests in flight`));
    }
    const call: ActiveCall = {
      method,
      abort: new AbortController(),
      out: {},
      input: streams.in ? new InputQueue((bytes) => this.send({ t: 'credit', id, ch: 'in', bytes })) : null,
    };
    if (streams.out) call.out.out = new SendWindow();
    if (streams.err) call.out.err = new SendWindow();
    call.abort.signal.addEventListener('abort', () => {
      call.out.out?.close();
      call.out.err?.close();
      call.input?.close();
    });
    this.calls.set(id, call);
    const ctx: CallContext = {
      signal: call.abort.signal,
      input: call.input ?? emptyInput(),
      write: (ch, data) => this.writeStream(id, call, ch, data),
    };
    void this.run(id, call, handler, v.value as Params<Method>, ctx);
  }

  private async run(id: number, call: ActiveCall, handler: Handler<Method>, params: Params<Method>, ctx: CallContext): Promise<void> {
    let outcome: { result: Result<Method> } | { error: AgentError };
    try {
      outcome = { result: await handler(params, ctx) };
    } catch (e) {
      outcome = { error: toAgentError(e, call) };
    }
    if (this.calls.get(id) !== call) return; // reset meanwhile: that host is gone
    this.calls.delete(id);
    call.input?.close();
    if ('result' in outcome) {
      try {
        this.send({ t: 'res', id, result: outcome.result });
      } catch (e) {
        this.replyError(id, new AgentError('ERR_INTERNAL', `cannot encode the ${call.method} result: ${(e as Error).message}`));
      }
    } else {
      if (outcome.error.code === 'ERR_INTERNAL') this.opts.log('handler failed', { method: call.method, error: outcome.error.message });
      this.replyError(id, outcome.error);
    }
  }

  private async writeStream(id: number, call: ActiveCall, ch: 'out' | 'err', data: Buffer): Promise<void> {
    const w = call.out[ch];
    if (!w) throw new AgentError('ERR_INTERNAL', `${call.method} has no ${ch} stream`);
    let off = 0;
    while (off < data.length) {
      if (call.abort.signal.aborted) throw call.abort.signal.reason ?? new AgentError('ERR_CANCELLED', 'cancelled');
      const n = await w.take(Math.min(LIMITS.chunkBytes, data.length - off));
      if (n === 0 || this.calls.get(id) !== call) throw call.abort.signal.reason ?? new AgentError('ERR_CANCELLED', 'cancelled');
      this.send({ t: 'data', id, ch }, data.subarray(off, off + n));
      off += n;
    }
  }

  private onHello(id: number, params: unknown): void {
    const v = checkParams('hello', params);
    if (!v.ok) return this.replyError(id, new AgentError('ERR_INVALID_PARAMS', `hello: ${v.error}`));
    if (v.value.protocol !== PROTOCOL_VERSION) {
      return this.replyError(
        id,
        new AgentError('ERR_VERSION', `agent speaks protocol ${PROTOCOL_VERSION}, host asked for ${v.value.protocol}`, { agentProtocol: PROTOCOL_VERSION, agentVersion: this.opts.agentVersion }),
      );
    }
    // A hello starts a new session: whatever an earlier host left running is abandoned.
    // (Not a full reset: the decoder is in the middle of delivering this frame.)
    if (this.calls.size > 0) this.abortCalls('a new hello started another session');
    this.greeted = true;
    this.send({ t: 'res', id, result: { protocol: PROTOCOL_VERSION, nonce: v.value.nonce, agentVersion: this.opts.agentVersion } });
  }

  private replyError(id: number, e: AgentError): void {
    this.send({ t: 'err', id, error: { code: e.code, message: e.message.slice(0, 16 * 1024), ...(e.detail ? { detail: e.detail } : {}) } });
  }
}

function toAgentError(e: unknown, call: ActiveCall): AgentError {
  if (e instanceof AgentError) return e;
  if (call.abort.signal.aborted) return new AgentError('ERR_CANCELLED', `${call.method} cancelled`);
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.syscall) return new AgentError('ERR_IO', `${err.syscall}: ${err.message}`, { errno: err.code });
  return new AgentError('ERR_INTERNAL', (err as Error)?.message ?? String(e));
}

async function* emptyInput(): AsyncGenerator<Buffer> {}

/**
 * Host→agent bytes of one call, held until the handler reads them. The host may
 * send at most the window ahead of what the handler consumed; each consumption
 * grants credit back.
 */
class InputQueue implements AsyncIterable<Buffer> {
  private chunks: Buffer[] = [];
  private ended = false;
  private closed = false;
  private wake: (() => void) | null = null;
  private readonly window = new RecvWindow();

  constructor(private readonly grant: (bytes: number) => void) {}

  push(chunk: Buffer, end: boolean): boolean {
    if (this.ended) return chunk.length === 0;
    if (!this.window.receive(chunk.length)) return false;
    if (chunk.length > 0) this.chunks.push(chunk);
    if (end) this.ended = true;
    this.wake?.();
    return true;
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const c = this.chunks.shift();
      if (c) {
        yield c;
        if (this.closed) return;
        const g = this.window.consumed(c.length);
        if (g > 0) this.grant(g);
        continue;
      }
      if (this.ended || this.closed) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}
