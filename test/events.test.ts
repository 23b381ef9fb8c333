// Events end to end, on a real API, hostd and guest: a tenant's follower sees
// its container's create, start, die (with the exit code) and destroy in
// order; another tenant's follower sees none of them; the admin's sees them
// all; a client that reconnects with the last id it had (SSE Last-Event-ID,
// or `since` from the CLI) gets what it missed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import type { ForkdEvent } from '../services/contracts/events/index.js';
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
  stack = await startStack({ name: 'events', env: { FORKD_POOL_SIZE: '0' } });
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

describe('GET /v1/events', () => {
  let acme: EventFollower;
  let globex: EventFollower;
  let admin: EventFollower;
  let containerId: string;
  let mine: ForkdEvent[];

  beforeAll(async () => {
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

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
