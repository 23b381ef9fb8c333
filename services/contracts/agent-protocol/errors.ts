// Wire error codes: what the agent puts in an `err` reply. They are the agent's
// vocabulary, not forkd's catalogue; the host maps each to a ForkdError code in
// one place (toForkdCode) and keeps the wire code in `detail.wireCode`.

import type { ErrorCode } from '../errors.js';

export const WIRE_CODES = {
  /** The agent could not parse what the host sent (bad frame, bad header). */
  ERR_PROTOCOL: 'ERR_GUEST_PROTOCOL',
  /** hello carried a protocol version this agent does not speak. */
  ERR_VERSION: 'ERR_GUEST_PROTOCOL',
  /** A method name this agent does not know. */
  ERR_UNKNOWN_METHOD: 'ERR_GUEST_PROTOCOL',
  /** A request arrived before a successful hello. */
  ERR_NO_HELLO: 'ERR_GUEST_PROTOCOL',
  /** Params failed the method's schema; `detail.field` names the path. */
  ERR_INVALID_PARAMS: 'ERR_GUEST',
  /** Container, image or layer unknown to the agent. */
  ERR_NOT_FOUND: 'ERR_GUEST',
  /** Wrong state (already exists, already started, still running). */
  ERR_CONFLICT: 'ERR_GUEST',
  /** Too many requests or streams in flight on this connection. */
  ERR_BUSY: 'ERR_GUEST',
  /** The host cancelled the request. */
  ERR_CANCELLED: 'ERR_GUEST',
  /** The OCI runtime refused to create or start the container process (crun's message). */
  ERR_CONTAINER_START: 'ERR_CONTAINER_START',
  /** The OCI runtime refused to start an exec'd process. */
  ERR_EXEC_START: 'ERR_CONTAINER_START',
  /** Layer bytes do not match their diffId, or a layer tar is corrupt. */
  ERR_IMAGE_INVALID: 'ERR_IMAGE_INVALID',
  /** A guest-side system call or tool failed (mount, ip, write). */
  ERR_IO: 'ERR_GUEST',
  /** A bug or unexpected state in the agent. */
  ERR_INTERNAL: 'ERR_GUEST',
} as const satisfies Record<string, ErrorCode>;

export type WireCode = keyof typeof WIRE_CODES;

export function isWireCode(v: unknown): v is WireCode {
  return typeof v === 'string' && Object.hasOwn(WIRE_CODES, v);
}

/** The forkd catalogue code a wire code becomes on the host; unknown codes are a guest failure. */
export function toForkdCode(code: string): ErrorCode {
  return isWireCode(code) ? WIRE_CODES[code] : 'ERR_GUEST';
}

/** What the agent throws inside a handler; dispatch turns it into an `err` reply. */
export class AgentError extends Error {
  constructor(
    readonly code: WireCode,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}
