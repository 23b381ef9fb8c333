// POST /containers/{id}/attach and /resize. SEAM for interactive I/O: output
// only for now. The container's log is streamed from its first byte when the
// attach comes before the start (as in `docker run`) or asks for `logs=1`, so
// nothing printed before the client connected is lost, and the stream ends
// when the container exits.
//
// To wire stdin and TTYs (the interactive-I/O work): in `attachHandler`, when
// `stdin=1` and the container has OpenStdin, take the client's bytes (first
// `request.raw.upgradeRest`, the bytes that came with the request, then
// `out.socket`'s data: replace the drain listener in hijack.ts) and hand them
// to the API-level attach function; the CLI half-closes at stdin EOF (the
// socket's 'end'): then close the process's stdin and keep sending output.
// With Config.Tty the output is raw (frame() does that already).
// `resizeHandler` then calls the resize function instead of answering a
// no-op. Upgraded requests reach the route with Node's HTTP parser already off
// the socket (upgrade.ts), so stdin bytes are never read as HTTP.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { containerOf, openStream, tenantOf, type DockerContext } from './context.js';
import { queryBool } from './filters.js';
import { frame } from './frames.js';
import { hijack } from './hijack.js';
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
    const out = hijack(request, reply);
    let finish!: () => void;
    ctx.state.trackAttach(row.id, new Promise<void>((r) => { finish = r; }));
    try {
      if (!stream && !fromStart) return;
      if (stream && !(await untilStarted(ctx, tenantId, row.id, out.isGone))) return;
      const relay = await openStream(ctx, tenantId, row.vm.hostId, (session) => ctx.services.hostJobs.call(row.vm.hostId, 'container.logs', {
        vmId: row.vmId, containerId: row.id, session, follow: stream, ...(fromStart ? {} : { tail: 0 }),
      }, { timeoutMs: stream ? 7 * 24 * 3600_000 : 120_000 }));
      // A client that leaves ends the log job and gives its stream slot back.
      void out.gone.then(() => relay.close());
      try {
        for await (const f of relay.frames) {
          if (out.isGone()) break;
          if ((f.kind === 'stdout' && wantOut) || (f.kind === 'stderr' && wantErr)) out.write(frame(f.kind, f.data, settings.tty));
        }
      } finally {
        await relay.close();
      }
    } catch (err) {
      // A client that left is the usual end (closing the relay under its reader throws): only a live client's stream failing is news.
      if (!out.isGone()) request.log.warn({ err, container: row.id }, 'docker attach ended with an error');
    } finally {
      out.end();
      finish();
    }
  };
}

/** No TTY yet: nothing to resize. Answered 200 so `docker run -t` does not fail on it. */
export function resizeHandler(ctx: DockerContext) {
  return async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply): Promise<void> => {
    await containerOf(ctx, await tenantOf(ctx, request), request.params.id);
    await reply.status(200).send();
  };
}
