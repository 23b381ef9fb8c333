// Interactive exec over a WebSocket: GET /v1/containers/:id/exec.
//
// The command and its environment (often secrets) never travel in the URL,
// which proxies and request logs record. The client's first text message says
// what to run:
//   {"type":"start","cmd":["sh"],"env":["K=V"],"workingDir":"/"}   (env, workingDir optional)
// Then binary messages are stdin, and `{"type":"stdin-end"}` closes stdin. The
// server sends binary messages whose first byte is 1 (stdout) or 2 (stderr),
// then one text message `{"exit":N}` or `{"error":{…}}`, then closes.
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { ForkdError } from '../../contracts/errors.js';
import type { RelaySession } from '../io-relay.js';

export interface ExecStart {
  cmd: string[];
  env?: string[];
  workingDir?: string;
}

/** How long a socket may stay open without its start message. */
export const START_TIMEOUT_MS = 30_000;
const MAX_ITEMS = 1024;
const MAX_ITEM_CHARS = 32_768;

const invalid = (field: string, message: string) => new ForkdError('ERR_VALIDATION', message, { field });
/** Fields of the start message are named `start.<name>`, as body fields are `body.<name>`. */
const invalidStart = (name: string, message: string) => invalid(`start.${name}`, message);

/** The query of the old protocol (cmd and env in the URL) is refused, naming the field and where it goes now. */
export function refuseQueryArguments(query: unknown): void {
  const q = (query ?? {}) as Record<string, unknown>;
  for (const field of ['env', 'cmd', 'workingDir'] as const) {
    if (q[field] !== undefined) {
      throw invalid(`query.${field}`, `\`${field}\` is not accepted in the exec URL (URLs end up in logs): send it in the first WebSocket message, {"type":"start","cmd":[…],"env":[…]}`);
    }
  }
  const other = Object.keys(q)[0];
  if (other !== undefined) throw invalid(`query.${other}`, `unknown query parameter \`${other}\`: exec takes none; send {"type":"start",…} as the first message`);
}

function stringList(value: unknown, field: string, opts: { minItems: number; pattern?: RegExp }): string[] {
  if (!Array.isArray(value) || value.length < opts.minItems || value.length > MAX_ITEMS) {
    throw invalidStart(field, `\`${field}\` must be an array of ${opts.minItems}–${MAX_ITEMS} strings`);
  }
  for (const item of value) {
    if (typeof item !== 'string' || item.length > MAX_ITEM_CHARS) throw invalidStart(field, `\`${field}\` items must be strings of at most ${MAX_ITEM_CHARS} characters`);
    if (opts.pattern && !opts.pattern.test(item)) throw invalidStart(field, `\`${field}\` items must look like NAME=value`);
  }
  return value as string[];
}

/** Parses the start message; every fault names its field. */
export function parseStartMessage(text: string): ExecStart {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw invalidStart('type', 'the first message must be JSON: {"type":"start","cmd":[…]}');
  }
  if (typeof msg !== 'object' || msg === null || (msg as { type?: unknown }).type !== 'start') {
    throw invalidStart('type', 'the first message must be {"type":"start","cmd":[…]}');
  }
  const { cmd, env, workingDir, ...rest } = msg as Record<string, unknown>;
  delete rest.type;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw invalidStart(extra, `unknown field \`${extra}\` in the start message`);
  const start: ExecStart = { cmd: stringList(cmd, 'cmd', { minItems: 1 }) };
  if (env !== undefined) start.env = stringList(env, 'env', { minItems: 0, pattern: /^[^=]+=/ });
  if (workingDir !== undefined) {
    if (typeof workingDir !== 'string' || !workingDir.startsWith('/') || workingDir.length > 4096) throw invalidStart('workingDir', '`workingDir` must be an absolute path');
    start.workingDir = workingDir;
  }
  return start;
}

/** Opens the session for a validated start message (finds the container, takes a stream slot, starts hostd's job). */
export type OpenExec = (request: FastifyRequest, start: ExecStart) => Promise<RelaySession>;

export function execSocketHandler(open: OpenExec) {
  return async (socket: WebSocket, request: FastifyRequest): Promise<void> => {
    let relay: RelaySession | undefined;
    let started!: (s: ExecStart) => void;
    let failed!: (e: ForkdError) => void;
    const startMessage = new Promise<ExecStart>((resolve, reject) => { started = resolve; failed = reject; });
    // Stdin may arrive right behind the start message, before the session exists: hold it, in order.
    let opened!: (r: RelaySession) => void;
    const relayReady = new Promise<RelaySession>((resolve) => { opened = resolve; });
    let chain = Promise.resolve();
    const forward = (kind: 'stdin' | 'stdin-end', data?: Buffer) => {
      // A write that fails means the session is gone; the frames loop below reports why.
      chain = chain.then(async () => { await (await relayReady).input.write(kind, data); }).catch(() => {});
    };
    let gotStart = false;
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return forward('stdin', data);
      if (!gotStart) {
        gotStart = true;
        try {
          started(parseStartMessage(data.toString()));
        } catch (err) {
          failed(err as ForkdError);
        }
        return;
      }
      if (isStdinEnd(data)) forward('stdin-end');
    });
    let closed = false;
    socket.on('close', () => {
      closed = true;
      failed(new ForkdError('ERR_VALIDATION', 'the client closed the socket before its start message', { field: 'start.type' }));
      void relay?.close();
    });
    const timer = setTimeout(() => failed(new ForkdError('ERR_VALIDATION', `no start message within ${START_TIMEOUT_MS / 1000} s: send {"type":"start","cmd":[…]} first`, { field: 'start.type' })), START_TIMEOUT_MS);
    try {
      const start = await startMessage;
      clearTimeout(timer);
      relay = await open(request, start);
      opened(relay);
      if (closed) return;
      for await (const f of relay.frames) {
        if (f.kind === 'stdout' || f.kind === 'stderr') socket.send(Buffer.concat([Buffer.from([f.kind === 'stdout' ? 1 : 2]), f.data]));
        else if (f.kind === 'exit') socket.send(JSON.stringify({ exit: Number(f.data.toString()) }));
        else if (f.kind === 'error') socket.send(f.data.toString());
      }
    } catch (err) {
      const fe = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', String(err));
      if (!closed) socket.send(JSON.stringify(fe.toJSON()));
    } finally {
      clearTimeout(timer);
      await relay?.close();
      socket.close();
    }
  };
}

function isStdinEnd(data: Buffer): boolean {
  try {
    return (JSON.parse(data.toString()) as { type?: unknown })?.type === 'stdin-end';
  } catch {
    return false;
  }
}
