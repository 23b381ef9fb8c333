// Operability end to end, on a real API, hostd and guest. Events: a tenant's
// follower sees its container's create, start, die (with the exit code) and
// destroy in order; another tenant's follower sees none of them; the admin's
// sees them all; a client that reconnects with the last id it had (SSE
// Last-Event-ID, or `since` from the CLI) gets what it missed. Metrics: the
// scrape parses, has the families the issue lists, and the container start
// counter moves once the container started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import type { ForkdEvent } from '../services/contracts/events/index.js';
import { parsePrometheusText, sampleValue, type PromFamily } from '../services/contracts/prom-text.js';
import { EventFollower } from './event-follower.js';
import { runCli, settled, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
const keys: Record<'acme' | 'globex', string> = { acme: '', globex: '' };
const followers: EventFollower[] = [];

async function ok(args: string[], env: NodeJS.ProcessEnv = stack.env): Promise<string> {
  const r = await runCli(args, env, { timeoutMs: 600_000 });
  expect(r.code, `forkd ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function follow(opts: Parameters<typeof EventFollower.open>[1]): Promise<EventFollower> {
  const f = await EventFollower.open(stack, opts);
  followers.push(f);
  return f;
}

beforeAll(async () => {
  stack = await startStack({ name: 'ops', env: { FORKD_POOL_SIZE: '0' } });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-events-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  for (const t of ['acme', 'globex'] as const) {
    await ok(['tenant', 'create', t]);
    keys[t] = (await ok(['key', 'create', '--tenant', t])).trim();
  }
  await ok(['image', 'import', join(work, 'busybox.tar')], { ...stack.env, FORKD_API_KEY: keys.acme });
}, 600_000);

afterAll(async () => {
  for (const f of followers) await f.close();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function scrape(): Promise<Map<string, PromFamily>> {
  const res = await stack.api('/metrics');
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

let startsBefore = 0;

describe('GET /v1/events', () => {
  let acme: EventFollower;
  let globex: EventFollower;
  let admin: EventFollower;
  let containerId: string;
  let mine: ForkdEvent[];

  beforeAll(async () => {
    startsBefore = sampleValue(await scrape(), 'forkd_container_starts_total', { host: stack.config.hostId });
    // Connected before anything happens: each must see everything after its headers came.
    acme = await follow({ key: keys.acme });
    globex = await follow({ key: keys.globex });
    admin = await follow({});
    const asAcme: Pick<Stack, 'api'> = { api: (path, init = {}) => stack.api(path, { ...init, key: keys.acme }) };
    const created = await settled(asAcme, await stack.api('/v1/containers', {
      key: keys.acme, method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: 'busybox', command: ['sh', '-c', 'exit 3'], boot: 'cold', name: 'quitter' }),
    }));
    expect(created.status, await created.clone().text()).toBe(202);
    containerId = ((await created.json()) as { id: string }).id;
    const waited = await stack.api(`/v1/containers/${containerId}/wait`, { key: keys.acme, method: 'POST' });
    expect(((await waited.json()) as { exitCode: number }).exitCode).toBe(3);
    expect((await stack.api(`/v1/containers/${containerId}`, { key: keys.acme, method: 'DELETE' })).status).toBe(200);
    await acme.waitFor((e) => e.actor.id === containerId && e.action === 'destroy');
    // The VM goes after the answer (a removal journals its destroy, docs/lifecycle.md): hostd says so when it is done.
    await acme.waitFor((e) => e.type === 'vm' && e.action === 'destroy' && e.actor.attributes['container'] === containerId);
    mine = acme.events.filter((e) => e.type === 'container' && e.actor.id === containerId);
  }, 900_000);

  it('shows the owner create, start, die with the exit code, and destroy, in order', () => {
    expect(mine.map((e) => e.action)).toEqual(['create', 'start', 'die', 'destroy']);
    expect(mine.every((e) => e.actor.name === 'quitter')).toBe(true);
    expect(mine.find((e) => e.action === 'die')?.actor.attributes).toMatchObject({ exitCode: '3', oomKilled: 'false' });
    const ids = mine.map((e) => e.id);
    expect([...ids].sort(compareIds)).toEqual(ids);
  });

  it('also reports the container\'s VM being made and destroyed', () => {
    const vmActions = acme.events.filter((e) => e.type === 'vm' && e.actor.attributes['container'] === containerId).map((e) => e.action);
    expect(vmActions).toEqual(['create', 'destroy']);
  });

  it('shows another tenant none of it, but its own events (the control)', async () => {
    // Published after acme's destroy: once globex's follower has it, it has had its chance at everything before.
    expect((await stack.api('/v1/networks', { key: keys.globex, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'marker' }) })).status).toBe(201);
    await globex.waitFor((e) => e.type === 'network' && e.actor.name === 'marker');
    expect(globex.events.filter((e) => e.tenantId !== globex.events[0]!.tenantId || e.actor.id === containerId)).toEqual([]);
    expect(globex.events.some((e) => e.actor.id === containerId)).toBe(false);
  });

  it('shows an admin key every tenant\'s events', async () => {
    await admin.waitFor((e) => e.type === 'network' && e.actor.name === 'marker');
    expect(admin.events.filter((e) => e.actor.id === containerId).map((e) => e.action)).toEqual(['create', 'start', 'die', 'destroy']);
  });

  it('replays after Last-Event-ID to a reconnecting SSE client, with ids', async () => {
    const f = await follow({ key: keys.acme, sse: true, lastEventId: mine[0]!.id, query: `?until=${Date.now()}&filters=${encodeURIComponent(JSON.stringify({ type: ['container'] }))}` });
    await f.finished();
    expect(f.events.map((e) => e.action)).toEqual(['start', 'die', 'destroy']);
    expect(f.sseIds).toEqual(mine.slice(1).map((e) => e.id));
  });

  it('replays with since from the CLI (forkd events --json --since)', async () => {
    const out = await ok(['events', '--json', '--since', mine[1]!.id, '--until', String(Date.now()), '--filter', 'type=container'], { ...stack.env, FORKD_API_KEY: keys.acme });
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as ForkdEvent);
    expect(lines.map((e) => e.action)).toEqual(['die', 'destroy']);
  });

  it('refuses a malformed since or filters, naming the field', async () => {
    const bad = await stack.api('/v1/events?since=yesterday', { key: keys.acme });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('since');
    const badFilter = await stack.api('/v1/events?filters=%7B%22colour%22%3A%5B%5D%7D', { key: keys.acme });
    expect(((await badFilter.json()) as { error: { field: string } }).error.field).toBe('filters');
  });

  it('refuses a tenant key that names another tenant', async () => {
    const r = await stack.api('/v1/events?tenant=acme', { key: keys.globex });
    expect(r.status).toBe(403);
  });
});

describe('GET /metrics', () => {
  it('counts the container start and exit once hostd\'s next snapshot is in (bounded wait)', async () => {
    const host = { host: stack.config.hostId };
    let f = await scrape();
    // hostd writes its snapshot every 10 s: poll a bounded number of times, assert on values, never on time.
    for (let i = 0; i < 60 && sampleValue(f, 'forkd_container_exits_total', host) < 1; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      f = await scrape();
    }
    expect(sampleValue(f, 'forkd_container_starts_total', host)).toBe(startsBefore + 1);
    expect(sampleValue(f, 'forkd_container_exits_total', host)).toBe(1);
    expect(sampleValue(f, 'forkd_container_oom_kills_total', host)).toBe(0);
    expect(sampleValue(f, 'forkd_vm_create_seconds_count', { ...host, boot: 'cold' })).toBe(1);
    expect(sampleValue(f, 'forkd_vm_create_step_seconds_count', { ...host, boot: 'cold', step: 'containerStart' })).toBe(1);
  });

  it('has every family the issue lists, typed, with bounded labels (no container or VM ids)', async () => {
    const f = await scrape();
    const families: Record<string, string> = {
      forkd_vms: 'gauge', forkd_pool_shells: 'gauge', forkd_pool_takes_total: 'counter', forkd_vm_create_seconds: 'histogram', forkd_vm_create_step_seconds: 'histogram',
      forkd_agent_roundtrip_seconds: 'histogram', forkd_container_starts_total: 'counter', forkd_container_exits_total: 'counter', forkd_container_oom_kills_total: 'counter',
      forkd_queue_jobs: 'gauge', forkd_queue_oldest_waiting_seconds: 'gauge', forkd_api_requests_total: 'counter', forkd_api_request_duration_seconds: 'histogram',
      forkd_host_memory_bytes: 'gauge', forkd_vm_memory_bytes: 'gauge', forkd_host_up: 'gauge',
    };
    for (const [name, type] of Object.entries(families)) expect(f.get(name)?.type, name).toBe(type);
    expect(sampleValue(f, 'forkd_host_memory_bytes', { host: stack.config.hostId, kind: 'total' })).toBeGreaterThan(0);
    expect(f.get('forkd_queue_jobs')!.samples.some((s) => s.labels['host'] === stack.config.hostId && s.labels['queue'] === 'jobs' && s.labels['state'] === 'waiting')).toBe(true);
    const labelNames = new Set([...f.values()].filter((x) => x.name.startsWith('forkd_')).flatMap((x) => x.samples.flatMap((s) => Object.keys(s.labels))));
    expect([...labelNames].filter((l) => !['host', 'state', 'boot', 'step', 'template', 'kind', 'queue', 'method', 'route', 'status', 'draining', 'le'].includes(l))).toEqual([]);
  });

  it('answers a tenant key 403 (the admin key above is the control)', async () => {
    expect((await stack.api('/metrics', { key: keys.acme })).status).toBe(403);
  });
});

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
