// The host↔guest agent protocol, imported by hostd (services/hostd/agent) and
// the agent (services/agent). README.md says how to change it.

export { PROTOCOL_VERSION, LIMITS } from './limits.js';
export { encodeFrame, FrameDecoder, FrameError, type Frame, type FrameLimits } from './framing.js';
export {
  METHODS,
  CHANNELS,
  parseMessage,
  messageDecoder,
  checkParams,
  checkResult,
  isMethod,
  ImageConfig,
  ContainerSummary,
  type Channel,
  type Message,
  type Method,
  type Methods,
  type Params,
  type Result,
  type StreamSpec,
  type WireError,
  type ContainerStatus,
  type Limits,
  type VolumeMount,
} from './messages.js';
export { WIRE_CODES, isWireCode, toForkdCode, AgentError, type WireCode } from './errors.js';
export { formatLogLine, parseLogLine, LogLineSplitter, MAX_LOG_LINE_BYTES, type LogRecord, type LogStream } from './log-format.js';
export { SendWindow, RecvWindow } from './flow.js';
export type { Schema, Infer } from './schema.js';
