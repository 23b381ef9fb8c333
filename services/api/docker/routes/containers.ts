// /containers: create (made but not started, as Docker's is), list, inspect,
// start, wait, stop, kill, remove, logs, stats; attach and exec live in
// attach.ts and exec.ts. Each maps onto forkd's Containers service.
import type { FastifyInstance } from 'fastify';
import { ForkdError } from '../../../contracts/errors.js';
import type { ContainerView } from '../../containers.js';
import { attachHandler, copyOutput, resizeHandler } from '../attach.js';
import { containerOf, openStream, settingsOf, tenantOf, type DockerContext } from '../context.js';
import { parseCreate } from '../create-body.js';
import { ensureLabelPod, removeDockerContainer } from '../label-pods.js';
import { placeByPodLabel } from '../pod-label.js';
import { noSuchImage, startFailure } from '../errors.js';
import { checkFilterKeys, labelMatches, parseFilters, queryBool, type Filters } from '../filters.js';
import { flushJson, hijack, MULTIPLEXED_STREAM, RAW_STREAM } from '../hijack.js';
import { dockerId } from '../ids.js';
import { containerInspect, containerSummary, dockerStatus } from '../inspect.js';
import type { DockerSettings } from '../settings.js';
import { removeAnonymous } from '../volumes.js';
import { autoRemove, untilExited, untilRemoved } from '../waiting.js';

type Q = Record<string, string | undefined>;
type IdReq = { Params: { id: string }; Querystring: Q };

/** How long a Docker create waits for forkd's create operation (a template build on first use included). */
const CREATE_WAIT_MS = 30 * 60_000;

export async function containerRoutes(app: FastifyInstance, ctx: DockerContext): Promise<void> {
  const { containers, images, operations } = ctx.services;
  const warn = (msg: string, fields: object) => app.log.warn(fields, msg);

  app.post<{ Querystring: Q; Body: unknown }>('/containers/create', async (request, reply) => {
    const actor = await ctx.services.tenancy.actorOf(request);
    const parsed = parseCreate(request.body, request.query.name);
    const { body, settings } = placeByPodLabel(parsed);
    // Docker's wording, which makes the CLI offer a pull, before forkd's own.
    await images.resolve(actor.tenantId, body.image).catch((err: unknown) => {
      if (err instanceof ForkdError && err.code === 'ERR_NOT_FOUND') throw noSuchImage(body.image.includes(':') || body.image.includes('@') ? body.image : `${body.image}:latest`);
      throw err;
    });
    ctx.services.tenancy.assertMayPublish(actor, body.ports);
    // A label naming no pod makes it (compose's first container), on the network the create asked for.
    if (body.pod !== undefined) await ensureLabelPod(ctx, actor, body.pod, parsed.body.network);
    // The Docker settings go on the row with the create, so they outlive this process (an empty hostname reads as the short id: settingsOf).
    const op = await containers.create(actor.tenantId, body, { docker: settings });
    const id = op.targetId!;
    ctx.state.set(id, settings);
    // Docker's create answers once the container exists: here, once its VM is made and the container created in it.
    const deadline = Date.now() + CREATE_WAIT_MS;
    let done = op;
    while (done.state !== 'succeeded' && done.state !== 'failed' && Date.now() < deadline) {
      done = await operations.get(actor.tenantId, op.id, 60_000, done.updatedAt);
    }
    if (done.state === 'failed') {
      ctx.state.forget(id);
      throw new ForkdError((done.error?.code ?? 'ERR_INTERNAL') as 'ERR_INTERNAL', done.error?.message ?? 'container create failed');
    }
    if (done.state !== 'succeeded') throw new ForkdError('ERR_TIMEOUT', `container ${id} is still being created (follow forkd operation ${op.id})`);
    return reply.status(201).send({ Id: dockerId(id), Warnings: [] });
  });

  app.get<{ Querystring: Q }>('/containers/json', async (request) => {
    const tenantId = await tenantOf(ctx, request);
    const all = queryBool(request.query.all);
    const filters = parseFilters(request.query.filters);
    checkFilterKeys(filters, ['status', 'name', 'id', 'label', 'ancestor', 'network', 'exited']);
    const views = await containers.list(tenantId, { all: true });
    await ctx.state.load(views.map((v) => v.id));
    const now = Date.now();
    const rows = views
      .map((v) => ({ v, s: settingsOf(ctx, v) }))
      .filter(({ v }) => all || filters.has('status') || dockerStatus(v.state) === 'running')
      .filter(({ v, s }) => matches(v, s, filters));
    const limit = Number(request.query.limit ?? -1);
    return (limit > 0 ? rows.slice(0, limit) : rows).map(({ v, s }) => containerSummary(v, s, v.image, now));
  });

  app.get<IdReq>('/containers/:id/json', async (request) => {
    const tenantId = await tenantOf(ctx, request);
    const { row, settings } = await containerOf(ctx, tenantId, request.params.id);
    const view = containers.view(row, undefined, { showEnv: true });
    return { ...containerInspect(view, settings, view.image, view.env), ExecIDs: ctx.state.execsOf(row.id) };
  });

  app.post<IdReq>('/containers/:id/start', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const { row, view, settings } = await containerOf(ctx, tenantId, request.params.id);
    if (row.state === 'running') return reply.status(304).send();
    if (row.state !== 'created') {
      throw new ForkdError('ERR_NOT_IMPLEMENTED', `container ${dockerId(row.id)} has ${row.state === 'exited' ? 'exited' : 'failed'}: forkd runs a container once (docker run a new one)`);
    }
    try {
      await containers.start(tenantId, row.id);
    } catch (err) {
      // --rm: a container that cannot start goes too, or `docker run --rm` waits forever on `removed`.
      if (settings.autoRemove) {
        // The client needs the start's error, not the removal's; one that fails leaves the row for `docker rm` (and the reconciler).
        await containers.remove(tenantId, row.id, true).catch((e: unknown) => warn('could not remove an AutoRemove container whose start failed', { container: row.id, err: String(e) }));
      }
      throw startFailure(err);
    } finally {
      ctx.state.markStarted(view.id);
    }
    if (settings.autoRemove) autoRemove(ctx, tenantId, row.id, warn);
    return reply.status(204).send();
  });

  app.post<IdReq>('/containers/:id/wait', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const { row } = await containerOf(ctx, tenantId, request.params.id);
    const condition = request.query.condition || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) {
      throw new ForkdError('ERR_VALIDATION', `invalid condition: "${condition}"`, { field: 'condition' });
    }
    // The CLI starts the container only once these headers are in.
    const res = flushJson(reply);
    try {
      let code: number | null;
      if (condition === 'not-running' && row.state !== 'running') code = row.exitCode ?? 0;
      else code = await untilExited(ctx, tenantId, row.id, res.isGone);
      if (condition === 'removed') await untilRemoved(ctx, tenantId, row.id, res.isGone);
      res.send({ StatusCode: code ?? ctx.state.lastExit(row.id) ?? 0, Error: null });
    } catch (err) {
      res.send({ StatusCode: -1, Error: { Message: (err as Error).message } });
    }
  });

  app.post<IdReq>('/containers/:id/stop', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const { row } = await containerOf(ctx, tenantId, request.params.id);
    if (row.state !== 'running') return reply.status(304).send();
    const t = request.query.t ?? request.query.timeout;
    await containers.stop(tenantId, row.id, t === undefined ? 10 : Math.max(0, Number(t) || 0));
    return reply.status(204).send();
  });

  app.post<IdReq>('/containers/:id/kill', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const { row } = await containerOf(ctx, tenantId, request.params.id);
    if (row.state !== 'running') throw new ForkdError('ERR_CONFLICT', `Cannot kill container: ${request.params.id}: Container ${dockerId(row.id)} is not running`);
    await containers.signal(tenantId, row.id, request.query.signal || 'SIGKILL');
    return reply.status(204).send();
  });

  app.post<IdReq>('/containers/:id/restart', async () => {
    throw new ForkdError('ERR_NOT_IMPLEMENTED', 'restarting a container is not supported by forkd: a container runs once in its VM (docker run a new one)');
  });

  app.delete<IdReq>('/containers/:id', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const { row } = await containerOf(ctx, tenantId, request.params.id);
    if (row.state === 'running' && !queryBool(request.query.force)) {
      throw new ForkdError('ERR_CONFLICT', `You cannot remove a running container ${dockerId(row.id)}. Stop the container before attempting removal or force remove`);
    }
    const { settings } = await containerOf(ctx, tenantId, row.id);
    // An exited container's attach and logs streams deliver its last output before its VM goes (bounded: attachesDone).
    if (row.state !== 'running') await ctx.state.attachesDone(row.id);
    await removeDockerContainer(ctx, tenantId, row.id, warn); // and its pod, when the Docker API made it and it is now empty
    ctx.state.forget(row.id);
    // `rm -v`: the container's anonymous volumes go with it (named ones stay, as Docker's do).
    if (queryBool(request.query.v)) await removeAnonymous(ctx, tenantId, settings.anonymousVolumes, warn);
    return reply.status(204).send();
  });

  app.get<IdReq>('/containers/:id/logs', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const { row, settings } = await containerOf(ctx, tenantId, request.params.id);
    const q = request.query;
    const wantOut = queryBool(q.stdout), wantErr = queryBool(q.stderr);
    if (!wantOut && !wantErr) throw new ForkdError('ERR_VALIDATION', 'Bad parameters: you must choose at least one stream', { field: 'stdout' });
    const follow = queryBool(q.follow) && row.state === 'running';
    const tail = q.tail === undefined || q.tail === 'all' ? undefined : Number(q.tail);
    if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) throw new ForkdError('ERR_VALIDATION', `invalid tail ${JSON.stringify(q.tail)}`, { field: 'tail' });
    const relay = await openStream(ctx, tenantId, row.vm.hostId, (session) => ctx.services.hostJobs.call(row.vm.hostId, 'container.logs', {
      vmId: row.vmId, containerId: row.id, session, follow, ...(tail === undefined ? {} : { tail }),
    }, { timeoutMs: follow ? 7 * 24 * 3600_000 : 120_000 }));
    const out = hijack(request, reply, settings.tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    void out.gone.then(() => relay.close());
    // A remove right after the exit waits for this stream to deliver (docker-py's run reads its logs after removing).
    let finish!: () => void;
    ctx.state.trackAttach(row.id, new Promise<void>((r) => { finish = r; }));
    try {
      await copyOutput(relay, out, { stdout: wantOut, stderr: wantErr, tty: settings.tty });
    } finally {
      await relay.close();
      out.end();
      finish();
    }
  });

  app.get<IdReq>('/containers/:id/stats', async (request, reply) => {
    const tenantId = await tenantOf(ctx, request);
    const { row, view } = await containerOf(ctx, tenantId, request.params.id);
    const one = async () => statsDoc(view, row.state === 'running'
      // `docker stats --no-stream` zeroes a row that takes over 2 s: a slow host reads as zeros, on time.
      ? await ctx.services.hostJobs.call(row.vm.hostId, 'container.stats', { vmId: row.vmId, containerId: row.id }, { timeoutMs: 1500 }).catch(() => null)
      : null);
    if (!queryBool(request.query.stream, true) || queryBool(request.query['one-shot'])) return one();
    const res = flushJson(reply);
    const raw = reply.raw;
    while (!res.isGone() && !raw.writableEnded) {
      raw.write(`${JSON.stringify(await one())}\n`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  });

  app.post<IdReq>('/containers/:id/attach', attachHandler(ctx));
  app.post<IdReq>('/containers/:id/resize', resizeHandler(ctx));
}

function matches(v: ContainerView, s: DockerSettings, f: Filters): boolean {
  const any = (key: string, test: (value: string) => boolean) => !f.has(key) || f.get(key)!.some(test);
  const every = (key: string, test: (value: string) => boolean) => !f.has(key) || f.get(key)!.every(test);
  return any('status', (x) => x === dockerStatus(v.state))
    && any('name', (x) => v.name.includes(x.replace(/^\//, '')))
    && any('id', (x) => dockerId(v.id).startsWith(x.toLowerCase()) || v.id.startsWith(x))
    && every('label', (x) => labelMatches(s.labels, x))
    && any('ancestor', (x) => x === s.image || x === v.image || `${x}:latest` === s.image || s.image === `${x.replace(/:latest$/, '')}` || v.image.startsWith(x))
    && any('network', (x) => v.network?.name === x || v.network?.id === x || (x === 'bridge' && v.network?.name === 'default'))
    && any('exited', (x) => v.state === 'exited' && String(v.exitCode) === x);
}

/** Docker's stats document from forkd's; a container not running (or a host slow to answer) reads as zeros, fast. */
function statsDoc(v: ContainerView, s: { memoryBytes: number; memoryLimitBytes: number | null; cpuUsec: number; pids: number } | null) {
  const now = new Date().toISOString();
  const cpu = { cpu_usage: { total_usage: (s?.cpuUsec ?? 0) * 1000, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: Number(process.hrtime.bigint()), online_cpus: v.vm.vcpus, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  return {
    read: now, preread: '0001-01-01T00:00:00Z', name: `/${v.name}`, id: dockerId(v.id),
    pids_stats: { current: s?.pids ?? 0 },
    cpu_stats: cpu,
    precpu_stats: { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0, online_cpus: v.vm.vcpus, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    memory_stats: { usage: s?.memoryBytes ?? 0, limit: s?.memoryLimitBytes ?? v.vm.memoryMib * 1024 * 1024, stats: {} },
    blkio_stats: {}, networks: {},
  };
}
