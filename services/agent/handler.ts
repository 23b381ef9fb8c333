// What a method handler sees. Handlers live one module per concern and are
// collected into one table (handlers.ts); the session turns their return values
// into `res` replies and their AgentErrors into `err` replies.

import type { Method, Params, Result } from '../contracts/agent-protocol/index.js';

export interface CallContext {
  /** Aborted when the host cancels the request or the session ends. */
  readonly signal: AbortSignal;
  /** Channel `in` (host→agent); empty for methods without input. Consuming it grants the host credit. */
  readonly input: AsyncIterable<Buffer>;
  /** Sends bytes on `out` or `err`, waiting for credit; throws once the call is cancelled. */
  write(ch: 'out' | 'err', data: Buffer): Promise<void>;
}

export type Handler<M extends Method> = (params: Params<M>, ctx: CallContext) => Promise<Result<M>>;

export type HandlerTable = { [M in Method]?: Handler<M> };

export type Log = (msg: string, fields?: Record<string, unknown>) => void;
