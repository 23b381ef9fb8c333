// Limits both sides enforce. Changing one is a protocol change (see README.md):
// a peer built with smaller limits would reject frames the other considers fine.

// 2: terminals (container.create tty/openStdin, exec tty), container.attach, container.resize.
export const PROTOCOL_VERSION = 2;

export const LIMITS = {
  /** Largest JSON header of one frame (requests, replies, stream headers). */
  maxHeaderBytes: 1024 * 1024,
  /** Largest binary payload of one frame (stream chunks). */
  maxPayloadBytes: 256 * 1024,
  /** Chunk size senders use for stream data (well under maxPayloadBytes). */
  chunkBytes: 64 * 1024,
  /** Credit each stream channel starts with; the receiver grants more as it consumes. */
  initialWindowBytes: 256 * 1024,
  /** Most credit a receiver may have outstanding on one channel. */
  maxWindowBytes: 4 * 1024 * 1024,
  /** Requests one connection may have in flight at once. */
  maxInFlightRequests: 256,
  /** Requests with streams one connection may have in flight at once. */
  maxInFlightStreams: 64,
  /** Largest request id; ids are positive integers chosen by the host. */
  maxRequestId: 2 ** 31 - 1,
} as const;
