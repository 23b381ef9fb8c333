// POST /containers/{id}/attach and /resize. A container made with Tty,
// OpenStdin or AttachStdin is attached through forkd's interactive sessions
// (services/api/attach/interactive.ts): the client's bytes go to the main
// process's stdin (stdin.ts), its half-close is the process's EOF, and the
// output is raw with a TTY, multiplexed frames without. Any other container
// gets its log streamed, from its first byte when the attach comes before the
// start (as in `docker run`) or asks for `logs=1`, so nothing printed before
// the client connected is lost. Either way the stream ends when the
// container exits, and a client that leaves closes the session (its stream
// slot and the host's job go with it).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForkdError } from '../../contracts/errors.js';
import { openRelay, type RelaySession } from '../io-relay.js';
import { containerOf, tenantOf, type DockerContext } from './context.js';
import { queryBool } from './filters.js';
import { frame } from './frames.js';
import { hijack, type StreamOut } from './hijack.js';
import type { DockerSettings } from './settings.js';
import { readStdin } from './stdin.js';
import { untilStarted } from './waiting.js';

type AttachRequest = FastifyRequest<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>;

export function attachHandler(ctx: DockerContext) {
  return async (request: AttachRequest, reply: FastifyReply): Promise<void> => {
    const tenantId = await tenantOf(ctx, request);
    const { row, settings } = await containerOf(ctx, tenantId, request.params.id);
    const q = request.query;
    const wantOut = queryBool(q.stdout), wantErr = queryBool(q.stderr);
    // From the start when the container has not run yet or the client asks for the log; else only what comes next.
    const fromStart = row.state === 'created' || queryBool(q.logs);
    const stream = queryBool(q.stream);
    const interactive = settings.tty || settings.openStdin || settings.attachStdin;
    // A container already started gets its log's stream slot before the upgrade, so a refusal (429) is an HTTP
    // answer the client reports; one not started yet (docker run attaches first) takes it once it starts.
    let lease = !interactive && row.state !== 'created' && (stream || fromStart) ? await ctx.services.streams.acquire(tenantId, row.vm.hostId) : undefined;
    const out = hijack(request, reply);
    let finish!: () => void;
    ctx.state.trackAttach(row.id, new Promise<void>((r) => { finish = r; }));
    if (interactive) {
      await interactiveAttach(ctx, request, out, { tenantId, id: row.id, settings, wantOut, wantErr, fromStart, stream }).finally(finish);
      return;
    }
    try {
      if (!stream && !fromStart) return;
      if (stream && !(await untilStarted(ctx, tenantId, row.id, out.isGone))) return;
      const slot = lease ?? (await ctx.services.streams.acquire(tenantId, row.vm.hostId));
      lease = undefined; // the relay holds it now, and gives it back on close
      const relay = openRelay(ctx.services.redis, (session) => ctx.services.hostJobs.call(row.vm.hostId, 'container.logs', {
        vmId: row.vmId, containerId: row.id, session, follow: stream, ...(fromStart ? {} : { tail: 0 }),
      }, { timeoutMs: stream ? 7 * 24 * 3600_000 : 120_000 }), slot);
      // A client that leaves ends the log job and gives its stream slot back.
      void out.gone.then(() => relay.close());
      try {
        await copyOutput(relay, out, { stdout: wantOut, stderr: wantErr, tty: settings.tty });
      } finally {
        await relay.close();
      }
    } catch (err) {
      // A client that left is the usual end (closing the relay under its reader throws): only a live client's stream failing is news.
      if (!out.isGone()) request.log.warn({ err, container: row.id }, 'docker attach ended with an error');
    } finally {
      await lease?.release().catch(() => undefined); // taken early, never handed to a relay (the client left first)
      out.end();
      finish();
    }
  };
}

interface AttachPlan {
  tenantId: string;
  id: string;
  settings: DockerSettings;
  wantOut: boolean;
  wantErr: boolean;
  fromStart: boolean;
  stream: boolean;
}

/** The main process's stdio through an interactive session; stdin only when asked for and the container keeps it open. */
async function interactiveAttach(ctx: DockerContext, request: AttachRequest, out: StreamOut, p: AttachPlan): Promise<void> {
  const withStdin = queryBool(request.query.stdin) && p.settings.openStdin && out.upgraded;
  // Read from the first byte: the client may send its stdin (and half-close) before the container starts.
  const stdin = withStdin ? readStdin(request, out, (err) => request.log.debug({ err, container: p.id }, 'docker attach: stdin not delivered')) : undefined;
  try {
    if (!p.stream && !p.fromStart) return;
    if (p.stream && !(await untilStarted(ctx, p.tenantId, p.id, out.isGone))) return;
    const session = await ctx.services.interactive.openAttach(p.tenantId, p.id, { stdin: withStdin, logs: p.fromStart, stream: p.stream });
    void out.gone.then(() => session.close());
    stdin?.pipeTo(session);
    try {
      for await (const c of session.output) {
        if (out.isGone()) break;
        if ((c.stream === 'stdout' && p.wantOut) || (c.stream === 'stderr' && p.wantErr)) out.write(frame(c.stream, c.data, p.settings.tty));
      }
    } finally {
      await session.close();
    }
  } catch (err) {
    if (!out.isGone()) request.log.warn({ err, container: p.id }, 'docker attach ended with an error');
  } finally {
    out.end();
  }
}

/** `?h=&w=`: the main process's terminal. A container without a TTY, or not running (the create's ConsoleSize is its first size), has nothing to resize: 200, as the CLI sends it regardless. */
/** A log relay's frames to a Docker stream (multiplexed, or raw with a TTY), the streams asked for only, until the client leaves. */
export async function copyOutput(relay: RelaySession, out: StreamOut, want: { stdout: boolean; stderr: boolean; tty: boolean }): Promise<void> {
  for await (const f of relay.frames) {
    if (out.isGone()) break;
    if ((f.kind === 'stdout' && want.stdout) || (f.kind === 'stderr' && want.stderr)) out.write(frame(f.kind, f.data, want.tty));
  }
}

export function resizeHandler(ctx: DockerContext) {
  return async (request: FastifyRequest<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>, reply: FastifyReply): Promise<void> => {
    const tenantId = await tenantOf(ctx, request);
    const { row, settings } = await containerOf(ctx, tenantId, request.params.id);
    const size = terminalSize(request.query);
    if (settings.tty && row.state === 'running') await ctx.services.interactive.resize(tenantId, row.id, size);
    await reply.status(200).send();
  };
}

/** Docker's `h` and `w`: positive whole numbers (400 naming the field otherwise). */
export function terminalSize(q: Record<string, string | undefined>): { rows: number; cols: number } {
  const num = (field: 'h' | 'w') => {
    const n = Number(q[field]);
    if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new ForkdError('ERR_VALIDATION', `invalid terminal ${field === 'h' ? 'height' : 'width'} ${JSON.stringify(q[field] ?? '')}`, { field });
    return n;
  };
  return { rows: num('h'), cols: num('w') };
}
