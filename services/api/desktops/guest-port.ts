// A TCP connection to a port on a container's guest loopback, from the API:
// the `container.port` stream job (services/hostd/handlers/container-port.ts)
// over the API↔hostd relay, as an exec's stdio travels. Nothing is published
// on the host, and the API need not share a machine with hostd
// (docs/multi-host.md). It holds a stream lease like any stream
// (docs/streams.md: 429 ERR_TOO_MANY_STREAMS past the limits).
//
// The relay has no flow control back to hostd: a reader that stops leaves
// frames in Redis, trimmed past 10 000 (stream-relay.ts), which would cut a
// byte stream. For the VNC bridge that should not pile up: noVNC asks for
// updates (FramebufferUpdateRequest, or TigerVNC's continuous updates) and
// answers Xvnc's fences, with which Xvnc measures the round trip through the
// whole path (relay and browser included) and limits what it has in flight;
// a browser that stops reading stops the fence replies, so Xvnc stops
// sending. Not measured here beyond the end-to-end test.
import type { Redis } from 'ioredis';
import { ForkdError, type ErrorBody } from '../../contracts/errors.js';
import type { Containers } from '../containers.js';
import type { HostJobs } from '../host-jobs.js';
import { openRelay } from '../io-relay.js';
import type { StreamLimiter } from '../streams/stream-limiter.js';

export interface GuestPortDeps {
  containers: Containers;
  hostJobs: HostJobs;
  redis: Redis;
  streams: StreamLimiter;
}

/** One connection. Read `output` to its end (it ends when the guest side closed); close() is idempotent and must be called. */
export interface GuestSocket {
  output: AsyncIterable<Buffer>;
  /** Bytes to the guest's socket, in order (each write waits for the previous one to be queued in Redis). */
  write(data: Buffer): Promise<void>;
  close(): Promise<void>;
}

export type GuestPort = (tenantId: string, containerId: string, port: number) => Promise<GuestSocket>;

const CONNECTION_TIMEOUT_MS = 7 * 24 * 3600_000;

export function guestPort(deps: GuestPortDeps): GuestPort {
  return async (tenantId, containerId, port) => {
    const row = await deps.containers.row(tenantId, containerId);
    if (row.state !== 'running') throw new ForkdError('ERR_NOT_FOUND', `container ${row.name} is not running (${row.state})`, { field: 'id' });
    const lease = await deps.streams.acquire(row.tenantId, row.vm.hostId);
    const relay = openRelay(deps.redis, (session) => deps.hostJobs.call(row.vm.hostId, 'container.port', {
      vmId: row.vmId, containerId: row.id, session, port,
    }, { timeoutMs: CONNECTION_TIMEOUT_MS }), lease);
    let closed = false;
    let chain: Promise<void> = Promise.resolve();
    async function* output(): AsyncGenerator<Buffer> {
      for await (const f of relay.frames) {
        if (f.kind === 'stdout') yield f.data;
        else if (f.kind === 'error') throw ForkdError.fromJSON(JSON.parse(f.data.toString()) as ErrorBody);
      }
    }
    return {
      output: output(),
      write: (data) => {
        chain = chain.then(() => (closed ? undefined : relay.input.write('stdin', data)));
        return chain;
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await relay.close();
      },
    };
  };
}
