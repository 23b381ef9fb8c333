// container.attach and container.resize: a client on the main process's stdio.
// Output: the replay (with `logs`) and the live chunks come from one snapshot of
// ContainerIo, so nothing is lost or doubled between them; chunks wait in a
// queue while the host's credit is short. Input: `in` goes to the process's
// stdin; its end is the half-close.

import { AgentError, type LogStream, type Params, type Result } from '../contracts/agent-protocol/index.js';
import type { Containers } from './containers.js';
import { replayLog } from './container-io.js';
import type { CallContext } from './handler.js';
import type { Terminal } from './terminal.js';

/** Bytes held for one slow attached client before it is cut off (it can attach again with `logs`). */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

export async function attachContainer(containers: Containers, p: Params<'container.attach'>, ctx: CallContext): Promise<Result<'container.attach'>> {
  const stream = p.stream !== false;
  let rec = containers.get(p.id);
  if (stream && rec.status === 'created') rec = await containers.whenStarted(p.id, ctx.signal);
  const io = containers.io(p.id);
  const send = (s: LogStream, d: Buffer) => ctx.write(s === 'stdout' ? 'out' : 'err', d);
  if (!io || !stream) {
    // Not running (or no live part wanted): the log is the whole story.
    if (p.logs) for (const c of replayLog(`${containers.containerDir(p.id)}/log`)) await send(c.stream, c.data);
    return exitOf(containers, p.id);
  }
  const queue: Array<{ stream: LogStream; data: Buffer }> = [];
  let queued = 0;
  let wake: (() => void) | null = null;
  let overrun = false;
  const snap = io.snapshotAndSubscribe((s, data) => {
    if (queued + data.length > MAX_QUEUED_BYTES) {
      overrun = true;
    } else {
      queue.push({ stream: s, data });
      queued += data.length;
    }
    wake?.();
  });
  const ended = io.whenEnded().then(() => wake?.());
  const onAbort = () => wake?.();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const feeding = p.stdin ? feedStdin(ctx, (d) => io.writeStdin(d), () => io.endStdin()) : Promise.resolve();
  try {
    if (p.logs) for (const c of snap.replay) await send(c.stream, c.data);
    for (;;) {
      const c = queue.shift();
      if (c) {
        queued -= c.data.length;
        await send(c.stream, c.data);
        continue;
      }
      if (overrun) throw new AgentError('ERR_BUSY', `the attached client fell more than ${MAX_QUEUED_BYTES} bytes behind`);
      if (io.isEnded || ctx.signal.aborted) break;
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
  } finally {
    snap.unsubscribe();
    ctx.signal.removeEventListener('abort', onAbort);
    void ended;
  }
  if (ctx.signal.aborted) throw new AgentError('ERR_CANCELLED', 'attach cancelled');
  await containers.exited(p.id);
  void feeding;
  return exitOf(containers, p.id);
}

/** Writes `in` to the process; the end of `in` is the half-close. A cancelled call leaves stdin open (another client may attach). */
async function feedStdin(ctx: CallContext, write: (d: Buffer) => Promise<void>, end: () => void): Promise<void> {
  try {
    for await (const chunk of ctx.input) await write(chunk);
    if (!ctx.signal.aborted) end();
  } catch {
    // the call ended under us
  }
}

function exitOf(containers: Containers, id: string): Result<'container.attach'> {
  const rec = containers.get(id);
  const exited = rec.status === 'exited';
  return { exited, exitCode: exited ? rec.exitCode : null, signal: exited ? rec.signal : null, oomKilled: rec.oomKilled };
}

/** Terminals of tty execs, by container and exec id, for container.resize. */
export class ExecTerminals {
  private readonly byKey = new Map<string, Terminal>();

  add(id: string, execId: string, t: Terminal): void {
    const key = `${id}/${execId}`;
    if (this.byKey.has(key)) throw new AgentError('ERR_CONFLICT', `exec ${execId} already runs in container ${id}`);
    this.byKey.set(key, t);
  }

  remove(id: string, execId: string): void {
    this.byKey.delete(`${id}/${execId}`);
  }

  get(id: string, execId: string): Terminal | undefined {
    return this.byKey.get(`${id}/${execId}`);
  }
}

export function resizeTerminal(containers: Containers, execs: ExecTerminals, p: Params<'container.resize'>): Result<'container.resize'> {
  containers.get(p.id);
  const t = p.execId === undefined ? containers.io(p.id)?.terminal : execs.get(p.id, p.execId);
  if (!t) {
    const what = p.execId === undefined ? `container ${p.id}` : `exec ${p.execId} in container ${p.id}`;
    throw new AgentError('ERR_CONFLICT', `${what} has no running terminal`);
  }
  t.resize(p.rows, p.cols);
  return {};
}
