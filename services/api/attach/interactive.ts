// Attach and interactive exec as plain functions of the API process: the
// WebSocket routes here and the Docker Engine API layer both call them, so a
// container's stdio reaches either without an HTTP hop. Each session is a
// stream: it holds a lease of the stream limiter (429 ERR_TOO_MANY_STREAMS past
// the limits) and a relay session to the host's stream job
// (services/hostd/handlers/container-attach.ts, container-io.ts); close()
// gives both back and cancels the job.
import type { Owner } from '../tenancy/scope.js';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ForkdError, type ErrorBody } from '../../contracts/errors.js';
import type { AttachExit } from '../../contracts/jobs.js';
import type { Containers } from '../containers.js';
import type { HostJobs } from '../host-jobs.js';
import { openRelay, type RelaySession } from '../io-relay.js';
import type { StreamLimiter } from '../streams/stream-limiter.js';

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** How the process ended: `signal` names a killing signal, `oomKilled` is the main process's (always false for an exec). */
export type ProcessExit = AttachExit & { exitCode: number };

export interface TerminalSize {
  rows: number;
  cols: number;
}

/**
 * One attached client. Read `output` to its end (the host stops sending when
 * it is not read); `exit` settles after it: the exit status, or undefined when
 * the stream ended without one (stream: false, a detach, an error). close() is
 * idempotent and safe at any time; a client that goes away must call it.
 */
export interface InteractiveSession {
  output: AsyncIterable<OutputChunk>;
  /** To the process's stdin (ignored when the session was opened without stdin). */
  write(data: Buffer): Promise<void>;
  /** The half-close: the process's stdin ends, output keeps coming until it exits. */
  endStdin(): Promise<void>;
  /** The terminal's size (tty containers and tty execs; ignored otherwise). */
  resize(rows: number, cols: number): Promise<void>;
  close(): Promise<void>;
  exit: Promise<ProcessExit | undefined>;
}

export interface AttachOptions {
  /** Write to the main process's stdin (the container needs openStdin). */
  stdin?: boolean;
  /** Replay the output so far first. Default false. */
  logs?: boolean;
  /** Live output until the process exits. Default true. */
  stream?: boolean;
}

export interface ExecOptions {
  cmd: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  tty?: boolean;
  stdin?: boolean;
  /** The terminal's first size, with tty. */
  consoleSize?: TerminalSize;
}

export interface InteractiveDeps {
  containers: Containers;
  hostJobs: HostJobs;
  redis: Redis;
  streams: StreamLimiter;
}

const STREAM_TIMEOUT_MS = 7 * 24 * 3600_000;

export class Interactive {
  constructor(private readonly deps: InteractiveDeps) {}

  /** The main process's stdio: replayed and/or live output, stdin, resizes. */
  async openAttach(owner: Owner, containerId: string, opts: AttachOptions = {}): Promise<InteractiveSession> {
    const { containers, hostJobs } = this.deps;
    const row = await containers.row(owner, containerId);
    const stream = opts.stream ?? true;
    const relay = await this.open(row.tenantId, row.vm.hostId, (session) => hostJobs.call(row.vm.hostId, 'container.attach', {
      vmId: row.vmId, containerId: row.id, session, logs: opts.logs ?? false, stream, stdin: opts.stdin ?? false,
    }, { timeoutMs: STREAM_TIMEOUT_MS }));
    return sessionOf(relay);
  }

  /** A process in a running container, optionally with a terminal. */
  async openExec(owner: Owner, containerId: string, opts: ExecOptions): Promise<InteractiveSession> {
    const { containers, hostJobs } = this.deps;
    if (opts.cmd.length === 0) throw new ForkdError('ERR_VALIDATION', 'cmd must not be empty', { field: 'cmd' });
    const row = await containers.running(owner, containerId);
    const execId = `exec-${randomBytes(8).toString('hex')}`;
    const relay = await this.open(row.tenantId, row.vm.hostId, (session) => hostJobs.call(row.vm.hostId, 'container.exec', {
      vmId: row.vmId, containerId: row.id, session, command: opts.cmd, stdin: opts.stdin ?? false,
      ...(opts.env?.length ? { env: containers.sealEnv(row.id, opts.env) } : {}),
      ...(opts.workingDir ? { workingDir: opts.workingDir } : {}),
      ...(opts.user ? { user: opts.user } : {}),
      ...(opts.tty ? { tty: true, execId, ...(opts.consoleSize ? { rows: opts.consoleSize.rows, cols: opts.consoleSize.cols } : {}) } : {}),
    }, { timeoutMs: STREAM_TIMEOUT_MS }));
    return sessionOf(relay);
  }

  /** POST /v1/containers/:id/resize: the main process's terminal. */
  async resize(owner: Owner, containerId: string, size: TerminalSize): Promise<void> {
    const row = await this.deps.containers.running(owner, containerId);
    await this.deps.hostJobs.call(row.vm.hostId, 'container.resize', { vmId: row.vmId, containerId: row.id, rows: size.rows, cols: size.cols }, { timeoutMs: 30_000 });
  }

  private async open(tenantId: string, hostId: string, start: (session: string) => Promise<unknown>): Promise<RelaySession> {
    const lease = await this.deps.streams.acquire(tenantId, hostId);
    return openRelay(this.deps.redis, start, lease);
  }
}

function sessionOf(relay: RelaySession): InteractiveSession {
  let settle!: (e: ProcessExit | undefined) => void;
  const exit = new Promise<ProcessExit | undefined>((r) => (settle = r));
  let exitSeen: ProcessExit | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    settle(exitSeen);
    await relay.close();
  };
  async function* output(): AsyncGenerator<OutputChunk> {
    try {
      for await (const f of relay.frames) {
        if (f.kind === 'stdout' || f.kind === 'stderr') yield { stream: f.kind, data: f.data };
        else if (f.kind === 'exit') exitSeen = parseExit(f.data);
        else if (f.kind === 'error') throw ForkdError.fromJSON(JSON.parse(f.data.toString()) as ErrorBody);
      }
    } finally {
      await close();
    }
  }
  const send = async (kind: 'stdin' | 'stdin-end' | 'resize', data?: Buffer) => {
    if (!closed) await relay.input.write(kind, data);
  };
  return {
    output: output(),
    write: (data) => send('stdin', data),
    endStdin: () => send('stdin-end'),
    resize: (rows, cols) => send('resize', Buffer.from(JSON.stringify({ rows, cols }))),
    close,
    exit,
  };
}

/** An exec's exit frame is its code; an attach's is JSON with the signal and OOM flag. */
function parseExit(data: Buffer): ProcessExit {
  const v = JSON.parse(data.toString()) as number | Partial<AttachExit>;
  if (typeof v === 'number') return { exitCode: v, signal: null, oomKilled: false };
  return { exitCode: v.exitCode ?? -1, signal: v.signal ?? null, oomKilled: v.oomKilled ?? false };
}
