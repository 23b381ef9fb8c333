// container.logs and container.exec: byte streams between the guest agent and a
// relay session in Redis (stream-relay.ts). Output goes to `<session>:out` as
// stdout/stderr frames, then `exit` (exec) and `end`, or an `error` frame with
// a ForkdError body; `<session>:in` brings stdin, stdin-end and cancel, read on
// a connection of our own (XREAD BLOCK holds it) that is closed afterwards.
import type { Readable } from 'node:stream';
import { ForkdError } from '../../contracts/errors.js';
import type { JobInput, JobOutput } from '../../contracts/jobs.js';
import { errorFields } from '../../contracts/logger.js';
import { openEnv } from '../../contracts/secrets/index.js';
import { readFrames, RelayWriter, sessionKeys, type InKind, type OutKind } from '../../contracts/stream-relay.js';
import type { JobContext } from '../job-handlers.js';
import { FrameBatcher } from './frame-batcher.js';
import { guest, vmFor, type ContainerDeps } from './guest.js';

export function containerLogsHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.logs'>, ctx: JobContext): Promise<JobOutput<'container.logs'>> => {
    const keys = sessionKeys(input.session);
    const out = new RelayWriter<OutKind>(deps.redis, keys.out);
    return withRelay(deps, keys.in, out, ctx, async (cancel, onFrame) => {
      onFrame((f) => {
        if (f.kind === 'cancel') cancel.abort();
      });
      // Opened while the container is still being made (`forkd run`): its create on this host ends first.
      if (input.afterCreate && deps.creates) {
        await deps.creates.settled(input.vmId, () => deps.vms.find(input.vmId) !== undefined, cancel.signal);
        if (cancel.signal.aborted) {
          await out.write('end');
          return { lines: 0 };
        }
      }
      const agent = vmFor(deps, input).agent;
      const h = agent.logs({ id: input.containerId, follow: input.follow, ...(input.tail === undefined ? {} : { tail: input.tail }) }, { signal: cancel.signal });
      let lines = 0;
      const batch = new FrameBatcher<OutKind>(out);
      try {
        for await (const rec of h.records) {
          await batch.add(rec.stream, rec.partial ? rec.text : `${rec.text}\n`);
          if (!rec.partial) lines++;
        }
        await guest(`logs of container ${input.containerId}`, () => h.result);
      } catch (err) {
        if (!cancel.signal.aborted) {
          await batch.flush().catch(() => undefined);
          throw err;
        }
      }
      await batch.flush();
      await out.write('end');
      return { lines };
    // A follow has no end of its own: when hostd drains it ends at once, with `end`, not after the drain grace.
    }, { endOnStop: input.follow });
  };
}

export function containerExecHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.exec'>, ctx: JobContext): Promise<JobOutput<'container.exec'>> => {
    const keys = sessionKeys(input.session);
    const out = new RelayWriter<OutKind>(deps.redis, keys.out);
    return withRelay(deps, keys.in, out, ctx, async (cancel, onFrame) => {
      const agent = vmFor(deps, input).agent;
      const h = agent.exec(
        {
          id: input.containerId,
          command: input.command,
          // Opened just before the agent call: the job payload holds only the envelope.
          ...(input.env ? { env: openEnv(deps.secretKey, input.containerId, input.env) } : {}),
          ...(input.workingDir ? { workingDir: input.workingDir } : {}),
          ...(input.user ? { user: input.user } : {}),
          stdin: input.stdin,
          ...(input.tty ? { tty: true, execId: input.execId ?? `exec-${input.session}`.slice(0, 64) } : {}),
          ...(input.rows ? { rows: input.rows } : {}),
          ...(input.cols ? { cols: input.cols } : {}),
        },
        { signal: cancel.signal },
      );
      // Relay frames arrive in order; stdin writes are chained so they stay in order too.
      const execId = input.tty ? (input.execId ?? `exec-${input.session}`.slice(0, 64)) : undefined;
      const result = await relayProcess('exec', input.containerId, h, out, cancel, onFrame, (data) => resize(agent, input.containerId, data, execId));
      await out.write('exit', String(result.exitCode));
      await out.write('end');
      return { exitCode: result.exitCode };
    });
  };
}

/** A `resize` frame to the agent; a bad or late one is dropped (a terminal size is advice, not a command that must succeed). */
export async function resize(agent: { call(m: 'container.resize', p: { id: string; execId?: string; rows: number; cols: number }): Promise<unknown> }, id: string, data: Buffer, execId?: string): Promise<void> {
  try {
    const { rows, cols } = JSON.parse(data.toString()) as { rows?: unknown; cols?: unknown };
    if (!Number.isInteger(rows) || !Number.isInteger(cols)) return;
    await agent.call('container.resize', { id, ...(execId ? { execId } : {}), rows: rows as number, cols: cols as number });
  } catch {
    // the terminal is gone, or the size was out of range
  }
}

/** What the agent gives for a process with streams: its stdio and its end. */
interface ProcessStreams<R> {
  stdin?: NodeJS.WritableStream | null | undefined;
  stdout: Readable;
  stderr: Readable;
  result: Promise<R>;
}

/**
 * The client's side of a relayed process (exec, attach): its `.in` frames go to
 * the process (stdin in order, the half-close, resize, cancel), its output to
 * `.out`; resolves with the process's result once all its output is written.
 */
export async function relayProcess<R>(
  what: 'exec' | 'attach',
  containerId: string,
  h: ProcessStreams<R>,
  out: RelayWriter<OutKind>,
  cancel: AbortController,
  onFrame: (l: FrameListener) => void,
  onResize: (data: Buffer) => Promise<void>,
): Promise<R> {
  let stdinChain: Promise<void> = Promise.resolve();
  onFrame((f) => {
    if (f.kind === 'cancel') return cancel.abort();
    if (f.kind === 'resize') return void onResize(f.data);
    const stdin = h.stdin;
    if (!stdin) return;
    if (f.kind === 'stdin' && f.data.length > 0) {
      stdinChain = stdinChain.then(() => new Promise<void>((resolve) => void stdin.write(f.data, () => resolve())));
    } else if (f.kind === 'stdin-end') {
      stdinChain = stdinChain.then(() => void stdin.end());
    }
  });
  const pumps = Promise.all([pump(h.stdout, (c) => out.write('stdout', c)), pump(h.stderr, (c) => out.write('stderr', c))]);
  let result: R;
  try {
    result = await guest(`${what} ${what === 'exec' ? 'in' : 'to'} container ${containerId}`, () => h.result);
  } catch (err) {
    if (cancel.signal.aborted) throw new ForkdError('ERR_GUEST', `${what} cancelled (by the client, or hostd is shutting down)`, { detail: { wireCode: 'ERR_CANCELLED' } });
    throw err;
  }
  await pumps;
  return result;
}

export async function pump(from: Readable, to: (chunk: Buffer) => Promise<void>): Promise<void> {
  for await (const chunk of from as AsyncIterable<Buffer>) await to(chunk);
}

export type FrameListener = (f: { kind: InKind; data: Buffer }) => void;

/**
 * Runs `body` with a cancel controller and a reader of the session's `.in`
 * stream on a duplicated connection (closed afterwards). A failure is also
 * written to `.out` as an `error` frame, so the client sees why. The cancel
 * fires when hostd's drain grace runs out, or with `endOnStop` as soon as the
 * drain starts.
 */
export async function withRelay<T>(
  deps: ContainerDeps,
  inKey: string,
  out: RelayWriter<OutKind>,
  ctx: JobContext,
  body: (cancel: AbortController, onFrame: (l: FrameListener) => void) => Promise<T>,
  opts: { endOnStop?: boolean } = {},
): Promise<T> {
  const cancel = new AbortController();
  const stopReading = new AbortController();
  const onDrain = (): void => cancel.abort();
  const drainSignal = opts.endOnStop ? ctx.stopping : ctx.signal;
  drainSignal.addEventListener('abort', onDrain, { once: true });
  if (drainSignal.aborted) cancel.abort();
  const reader = deps.redis.duplicate();
  let listener: FrameListener = () => undefined;
  const reading = (async () => {
    try {
      for await (const f of readFrames<InKind>(reader, inKey, stopReading.signal, 500)) listener(f);
    } catch (err) {
      if (!stopReading.signal.aborted) ctx.log.warn('relay input reader failed', errorFields(err));
    }
  })();
  try {
    return await body(cancel, (l) => { listener = l; });
  } catch (err) {
    const fe = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', (err as Error)?.message ?? String(err), { cause: err });
    await out.write('error', JSON.stringify(fe.toJSON())).catch(() => undefined);
    throw fe;
  } finally {
    drainSignal.removeEventListener('abort', onDrain);
    stopReading.abort();
    reader.disconnect();
    await reading;
  }
}
