// The event stream on a real Redis: published events come back in order with
// their ids and times, a reader resumes after an id, follows new events, keeps
// to its tenant, and stops when asked.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedis } from '../../cli/private-redis.js';
import { connectRedis } from '../redis.js';
import { EVENTS_STREAM_KEY, timeOfId, type ForkdEvent, type NewEvent } from './event.js';
import { publishEvent } from './publish.js';
import { readEvents } from './read.js';

let dir: string;
let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forkd-events-'));
  server = new PrivateRedis(join(dir, 'redis.sock'), join(dir, 'redis'));
  await server.start();
  redis = await connectRedis(server.url);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ev = (tenantId: string, action: string, id = 'c1'): NewEvent => ({ type: 'container', action, tenantId, actor: { id, attributes: {} } });

async function take(it: AsyncIterator<ForkdEvent>, n: number): Promise<ForkdEvent[]> {
  const out: ForkdEvent[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('events on Redis', () => {
  it('replays history after an id, then follows new events, in order', async () => {
    await redis.del(EVENTS_STREAM_KEY);
    const first = await publishEvent(redis, ev('t1', 'create'));
    await publishEvent(redis, ev('t1', 'start'));
    const ac = new AbortController();
    const it = readEvents(redis, { tenantId: 't1', after: first, signal: ac.signal, blockMs: 200 });
    const [start] = await take(it, 1);
    expect(start?.action).toBe('start');
    expect(start?.time).toBe(timeOfId(start!.id));
    const dieId = await publishEvent(redis, ev('t1', 'die'));
    const [die] = await take(it, 1);
    expect(die).toMatchObject({ id: dieId, action: 'die', tenantId: 't1' });
    ac.abort();
    expect((await it.next()).done).toBe(true);
  });

  it('keeps a tenant to its own events; the scope all sees both', async () => {
    await redis.del(EVENTS_STREAM_KEY);
    await publishEvent(redis, ev('t1', 'create', 'a'));
    await publishEvent(redis, ev('t2', 'create', 'b'));
    const t2 = readEvents(redis, { tenantId: 't2', since: 0, follow: false });
    expect((await take(t2, 10)).map((e) => e.actor.id)).toEqual(['b']);
    const all = readEvents(redis, { tenantId: 'all', since: 0, follow: false });
    expect((await take(all, 10)).map((e) => e.actor.id)).toEqual(['a', 'b']);
  });

  it('a follower without since sees only events published after it started', async () => {
    await redis.del(EVENTS_STREAM_KEY);
    await publishEvent(redis, ev('t1', 'create', 'old'));
    const ac = new AbortController();
    const it = readEvents(redis, { tenantId: 't1', signal: ac.signal, blockMs: 200 });
    const next = it.next();
    // When the follow began is not observable from here: publish until it sees one (bounded), then check it is no older event.
    let got: IteratorResult<ForkdEvent> | undefined;
    void next.then((r) => { got = r; });
    for (let i = 0; i < 50 && !got; i++) {
      await publishEvent(redis, ev('t1', 'create', `new${i}`));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(got?.value?.actor.id).toMatch(/^new/);
    ac.abort();
  });

  it('trims to about the retention', async () => {
    await redis.del(EVENTS_STREAM_KEY);
    for (let i = 0; i < 300; i++) await publishEvent(redis, ev('t1', 'create', `c${i}`), 100);
    const len = await redis.xlen(EVENTS_STREAM_KEY);
    expect(len).toBeGreaterThanOrEqual(100);
    expect(len).toBeLessThan(300);
  });
});
