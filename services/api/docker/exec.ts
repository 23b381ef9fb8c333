// Exec: `POST /containers/{id}/exec` makes an instance (kept in memory, as the
// daemon keeps them), `POST /exec/{id}/start` runs it (hijacked or a plain
// 200 stream, or detached), `GET /exec/{id}/json` reports it; the exit code is
// recorded before the stream closes, so the CLI's inspect right after reads it.
// An instance with Tty or AttachStdin (`exec -i`, `-t`) runs through forkd's
// interactive sessions (services/api/attach/interactive.ts): the client's
// bytes are its stdin (stdin.ts), its half-close the EOF, and
// `/exec/{id}/resize` sizes its terminal.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ForkdError } from '../../contracts/errors.js';
import { containerOf, openStream, tenantOf, type DockerContext } from './context.js';
import { noSuchExec } from './errors.js';
import { frame } from './frames.js';
import { terminalSize } from './attach.js';
import { hijack } from './hijack.js';
import { readStdin } from './stdin.js';
import { bodyOf } from './upgrade.js';
import { dockerId } from './ids.js';
import type { ExecInstance } from './settings.js';

type Body = Record<string, unknown>;

function strings(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new ForkdError('ERR_VALIDATION', `${field} must be a list of strings`, { field });
}

export async function execRoutes(app: FastifyInstance, ctx: DockerContext): Promise<void> {
  app.post<{ Params: { id: string }; Body: Body | undefined }>('/containers/:id/exec', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const { row } = await containerOf(ctx, tenantId, request.params.id);
    if (row.state !== 'running') throw new ForkdError('ERR_CONFLICT', `container ${dockerId(row.id)} is not running`);
    const b = request.body ?? {};
    const cmd = strings(b.Cmd, 'Cmd');
    if (cmd.length === 0) throw new ForkdError('ERR_VALIDATION', 'No exec command specified', { field: 'Cmd' });
    const e: ExecInstance = {
      id: randomBytes(32).toString('hex'),
      containerId: row.id,
      cmd,
      env: strings(b.Env, 'Env'),
      workingDir: typeof b.WorkingDir === 'string' && b.WorkingDir !== '' ? b.WorkingDir : undefined,
      user: typeof b.User === 'string' ? b.User : '',
      tty: b.Tty === true,
      attachStdin: b.AttachStdin === true,
      attachStdout: b.AttachStdout !== false,
      attachStderr: b.AttachStderr !== false,
      consoleSize: consoleSizeOf(b.ConsoleSize),
      running: false,
      started: false,
      exitCode: null,
    };
    ctx.state.addExec(e);
    return reply.status(201).send({ Id: e.id });
  });

  app.post<{ Params: { id: string }; Body: Body | undefined }>('/exec/:id/start', async (request, reply) => startHandler(ctx, request, reply));

  app.post<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>('/exec/:id/resize', async (request, reply) => {
    const e = ctx.state.exec(request.params.id);
    if (!e) throw noSuchExec(request.params.id);
    await containerOf(ctx, await tenantOf(ctx, request), e.containerId); // the instance must be this tenant's
    const size = terminalSize(request.query);
    // Before the start (the CLI may resize first), the size becomes the terminal's first one.
    if (e.resize) await e.resize(size.rows, size.cols);
    else e.consoleSize = size;
    await reply.status(200).send();
  });

  app.get<{ Params: { id: string } }>('/exec/:id/json', async (request) => {
    const e = ctx.state.exec(request.params.id);
    if (!e) throw noSuchExec(request.params.id);
    await tenantOf(ctx, request);
    return {
      ID: e.id, Running: e.running, ExitCode: e.exitCode, CanRemove: !e.running, DetachKeys: '',
      ContainerID: dockerId(e.containerId), OpenStdin: e.attachStdin, OpenStdout: e.attachStdout, OpenStderr: e.attachStderr, Pid: 0,
      ProcessConfig: { tty: e.tty, entrypoint: e.cmd[0], arguments: e.cmd.slice(1), privileged: false, user: e.user },
    };
  });
}

async function startHandler(ctx: DockerContext, request: FastifyRequest<{ Params: { id: string }; Body: Body | undefined }>, reply: FastifyReply): Promise<void> {
  const e = ctx.state.exec(request.params.id);
  if (!e) throw noSuchExec(request.params.id);
  const tenantId = await tenantOf(ctx, request);
  // The instance must be this tenant's: its container must resolve for the tenant.
  const { row, view } = await containerOf(ctx, tenantId, e.containerId);
  if (e.started) throw new ForkdError('ERR_CONFLICT', `exec ${e.id} has already started`);
  if (row.state !== 'running') throw new ForkdError('ERR_CONFLICT', `container ${dockerId(row.id)} is not running`);
  const detach = bodyOf<Body>(request)?.Detach === true;
  // Taken at once (a second start is refused), given back if the stream cannot open (429: no slot) so a retry may start it.
  e.started = true;
  if (e.tty || e.attachStdin) return interactiveExec(ctx, request, reply, e, { tenantId, containerId: row.id, detach });
  const relay = await openStream(ctx, tenantId, row.vm.hostId, (session) => ctx.services.hostJobs.call(row.vm.hostId, 'container.exec', {
    vmId: row.vmId, containerId: row.id, session, command: e.cmd, stdin: false,
    ...(e.env.length > 0 ? { env: ctx.services.containers.sealEnv(row.id, e.env) } : {}),
    ...(e.workingDir ? { workingDir: e.workingDir } : {}),
  }, { timeoutMs: 24 * 3600_000 })).catch((err: unknown) => { e.started = false; throw err; });
  e.running = true;
  let exitCode: number | null = null;
  const drain = async (write: (kind: 'stdout' | 'stderr', data: Buffer) => void, gone: () => boolean) => {
    try {
      for await (const f of relay.frames) {
        if (gone()) break;
        if (f.kind === 'stdout' || f.kind === 'stderr') write(f.kind, f.data);
        else if (f.kind === 'exit') exitCode = Number(f.data.toString());
        else if (f.kind === 'error') write('stderr', Buffer.from(`forkd: ${errorMessage(f.data)}\n`));
      }
    } finally {
      await relay.close();
      // Before the stream closes: the CLI inspects the exec as soon as it sees the end.
      ctx.state.endExec(e, exitCode ?? (gone() ? null : 126));
    }
  };
  if (detach) {
    void drain(() => undefined, () => false).catch((err: unknown) => request.log.warn({ err, exec: e.id, container: view.id }, 'detached exec failed'));
    await reply.status(200).header('content-type', 'application/json').send('');
    return;
  }
  const out = hijack(request, reply);
  void out.gone.then(() => relay.close());
  try {
    await drain((kind, data) => {
      if ((kind === 'stdout' && e.attachStdout) || (kind === 'stderr' && e.attachStderr)) out.write(frame(kind, data, e.tty));
    }, out.isGone);
  } catch (err) {
    if (!out.isGone()) request.log.warn({ err, exec: e.id }, 'docker exec stream ended with an error');
  } finally {
    out.end();
  }
}

/** `exec -i` / `-t`: a session with stdin and/or a terminal. */
/**
 * `exec -i` / `-t`: a session with stdin and/or a terminal. The session is
 * opened before the upgrade, so a refusal (429: no stream slot; 409) is an
 * HTTP answer the client reports, as the plain exec's is, and the instance
 * stays startable; the client's first stdin bytes wait in the socket meanwhile.
 */
async function interactiveExec(ctx: DockerContext, request: FastifyRequest<{ Params: { id: string }; Body: Body | undefined }>, reply: FastifyReply, e: ExecInstance, p: { tenantId: string; containerId: string; detach: boolean }): Promise<void> {
  const size = consoleSizeOf(bodyOf<Body>(request)?.ConsoleSize) ?? e.consoleSize;
  const upgraded = typeof request.headers.upgrade === 'string' && request.headers.upgrade.length > 0;
  const withStdin = e.attachStdin && !p.detach && upgraded;
  const session = await ctx.services.interactive.openExec(p.tenantId, p.containerId, {
    cmd: e.cmd, env: e.env, tty: e.tty, stdin: withStdin,
    ...(e.workingDir ? { workingDir: e.workingDir } : {}),
    ...(e.user ? { user: e.user } : {}),
    ...(e.tty && size ? { consoleSize: size } : {}),
  }).catch((err: unknown) => { e.started = false; throw err; });
  e.running = true;
  e.resize = (rows, cols) => session.resize(rows, cols);
  let exitCode: number | null = null;
  if (p.detach) {
    await reply.status(200).header('content-type', 'application/json').send('');
    void (async () => {
      for await (const _ of session.output) { /* detached: nobody reads the output */ }
      exitCode = (await session.exit)?.exitCode ?? null;
    })().catch((err: unknown) => request.log.warn({ err, exec: e.id }, 'detached exec failed')).finally(() => {
      e.resize = undefined;
      ctx.state.endExec(e, exitCode ?? 126);
    });
    return;
  }
  const out = hijack(request, reply);
  const stdin = withStdin ? readStdin(request, out, (err) => request.log.debug({ err, exec: e.id }, 'docker exec: stdin not delivered')) : undefined;
  void out.gone.then(() => session.close());
  stdin?.pipeTo(session);
  try {
    for await (const c of session.output) {
      if (out.isGone()) break;
      if ((c.stream === 'stdout' && e.attachStdout) || (c.stream === 'stderr' && e.attachStderr)) out.write(frame(c.stream, c.data, e.tty));
    }
    exitCode = (await session.exit)?.exitCode ?? null;
  } catch (err) {
    if (!out.isGone()) {
      request.log.warn({ err, exec: e.id }, 'docker exec stream ended with an error');
      out.write(frame('stderr', Buffer.from(`forkd: ${(err as Error).message}\n`), e.tty));
    }
  } finally {
    await session.close();
    e.resize = undefined;
    // Before the stream closes: the CLI inspects the exec as soon as it sees the end.
    ctx.state.endExec(e, exitCode ?? (out.isGone() ? null : 126));
    out.end();
  }
}

/** ConsoleSize `[height, width]`; absent or zero is none. */
function consoleSizeOf(v: unknown): { rows: number; cols: number } | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const [rows, cols] = v as unknown[];
  return typeof rows === 'number' && typeof cols === 'number' && Number.isInteger(rows) && Number.isInteger(cols) && rows > 0 && cols > 0 ? { rows, cols } : undefined;
}

function errorMessage(data: Buffer): string {
  try {
    const body = JSON.parse(data.toString()) as { error?: { message?: string }; message?: string };
    return body.error?.message ?? body.message ?? data.toString();
  } catch {
    return data.toString();
  }
}
