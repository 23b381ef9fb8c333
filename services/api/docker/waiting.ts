// Waiting on a container the way Docker clients do: for it to start (attach
// and wait come before start in `docker run`), to exit, and to be removed
// (--rm). forkd's row is the truth; the in-process `started` event only
// shortens the wait when the start came through this API.
import { once } from 'node:events';
import { ForkdError } from '../../contracts/errors.js';
import type { DockerContext } from './context.js';
import { removeDockerContainer } from './label-pods.js';
import { removeAnonymous } from './volumes.js';

/** How often a waiter re-reads the row when nothing in this process told it of a change. */
const POLL_MS = 1000;
/** One slice of a wait for exit: short, so a waiter whose client left stops soon. */
const WAIT_SLICE_MS = 15_000;

export type Stop = () => boolean;

async function rowState(ctx: DockerContext, tenantId: string, id: string): Promise<{ state: string; exitCode: number | null } | null> {
  return ctx.services.db.container.findFirst({ where: { tenantId, id }, select: { state: true, exitCode: true } });
}

async function pause(ctx: DockerContext, id: string, ms: number): Promise<void> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    await once(ctx.state.events, `started:${id}`, { signal: ac.signal });
  } catch {
    // the timer ran out: poll again
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once the container left `created` (or is gone); false if `stop` said to give up. */
export async function untilStarted(ctx: DockerContext, tenantId: string, id: string, stop: Stop): Promise<boolean> {
  for (;;) {
    if (stop()) return false;
    const row = await rowState(ctx, tenantId, id);
    if (!row || row.state !== 'created') return true;
    await pause(ctx, id, POLL_MS);
  }
}

/** The exit code once the container is not running (null: gone, or stop said to give up). */
export async function untilExited(ctx: DockerContext, tenantId: string, id: string, stop: Stop): Promise<number | null> {
  if (!(await untilStarted(ctx, tenantId, id, stop))) return null;
  for (;;) {
    if (stop()) return null;
    try {
      const c = await ctx.services.containers.wait(tenantId, id, WAIT_SLICE_MS);
      if (c.state !== 'running') return c.exitCode ?? (c.state === 'failed' ? 125 : 0);
    } catch (err) {
      if (err instanceof ForkdError && err.code === 'ERR_NOT_FOUND') return ctx.state.lastExit(id);
      // --rm may take the VM away under the wait (the agent's connection closes): the row says how it ended.
      const row = await rowState(ctx, tenantId, id);
      if (!row) return ctx.state.lastExit(id);
      if (row.state !== 'running') return row.exitCode ?? ctx.state.lastExit(id) ?? (row.state === 'failed' ? 125 : 0);
      throw err;
    }
  }
}

export async function untilRemoved(ctx: DockerContext, tenantId: string, id: string, stop: Stop): Promise<void> {
  while (!stop() && (await rowState(ctx, tenantId, id))) await pause(ctx, id, POLL_MS);
}

/**
 * --rm: once the container exited (or failed to start), and its attached
 * streams delivered what it printed, it is removed with its VM.
 */
export function autoRemove(ctx: DockerContext, tenantId: string, id: string, log: (msg: string, fields: object) => void): void {
  void (async () => {
    try {
      const code = await untilExited(ctx, tenantId, id, () => false);
      if (code !== null) ctx.state.recordExit(id, code);
      await ctx.state.attachesDone(id);
      await ctx.state.load([id]);
      const anonymous = ctx.state.get(id)?.anonymousVolumes ?? [];
      await removeDockerContainer(ctx, tenantId, id, log);
      await removeAnonymous(ctx, tenantId, anonymous, log);
    } catch (err) {
      if (err instanceof ForkdError && err.code === 'ERR_NOT_FOUND') return;
      log('could not remove an AutoRemove container (remove it with docker rm -f)', { container: id, err: String(err) });
    } finally {
      ctx.state.forget(id);
    }
  })();
}

/**
 * At start: the --rm containers a previous process was watching are watched
 * again (their AutoRemove is on the row), and those that ended meanwhile go
 * now. Containers never started keep waiting for a start, as in Docker.
 */
export async function resumeAutoRemove(ctx: DockerContext, log: (msg: string, fields: object) => void): Promise<number> {
  const rows = await ctx.services.db.container.findMany({ where: { state: { in: ['running', 'exited', 'failed'] } }, select: { id: true, tenantId: true, docker: true } });
  const watched = rows.filter((r) => (r.docker as { autoRemove?: unknown } | null)?.autoRemove === true);
  for (const r of watched) autoRemove(ctx, r.tenantId, r.id, log);
  return watched.length;
}
