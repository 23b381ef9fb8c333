import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, LIMITS, PROTOCOL_VERSION } from '../../contracts/agent-protocol/index.js';
import { ForkdError } from '../../contracts/errors.js';
import { AgentClient } from './agent-client.js';
import { FakeAgent, type FakeHandler } from './fake-agent.js';
import { rejection } from '../../../test/support.js';

const fakes: FakeAgent[] = [];
const clients: AgentClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const f of fakes.splice(0)) await f.close();
});

/** A well-behaved agent for hello/ping, with `extra` handling everything else. */
function agent(extra: FakeHandler = () => undefined): FakeHandler {
  return (msg, s, i) => {
    if (msg.t === 'req' && msg.method === 'hello') return s.helloOk(msg);
    if (msg.t === 'req' && msg.method === 'ping') return s.send({ t: 'res', id: msg.id, result: { now: Date.now() } });
    extra(msg, s, i);
  };
}

async function setup(handler: FakeHandler, opts: ConstructorParameters<typeof AgentClient>[1] = {}) {
  const fake = new FakeAgent(handler);
  fakes.push(fake);
  await fake.listen();
  const client = new AgentClient(fake.path, { attemptTimeoutMs: 300, ...opts });
  clients.push(client);
  return { fake, client };
}


describe('AgentClient against a fake agent', () => {
  it('handshakes, pings and calls', async () => {
    const { client } = await setup(
      agent((msg, s) => {
        if (msg.t === 'req' && msg.method === 'container.wait') s.send({ t: 'res', id: msg.id, result: { exitCode: 3, signal: null, oomKilled: false } });
      }),
    );
    const r = await client.waitReady({ timeoutMs: 5000 });
    expect(r.agentVersion).toBe('fake-1');
    expect(await client.call('container.wait', { id: 'c1' })).toEqual({ exitCode: 3, signal: null, oomKilled: false });
  });

  it('retries until the socket appears and the agent starts answering', async () => {
    const fake = new FakeAgent(
      agent(),
    );
    fakes.push(fake);
    // The first two connections swallow everything, like a port the guest has not opened yet.
    fake.setHandler((msg, s, i) => (i < 2 ? undefined : agent()(msg, s, i)));
    const client = new AgentClient(fake.path, { attemptTimeoutMs: 200 });
    clients.push(client);
    const ready = client.waitReady({ timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    await fake.listen();
    const r = await ready;
    expect(r.attempts).toBeGreaterThanOrEqual(3);
    expect(fake.connections).toBeGreaterThanOrEqual(3);
  });

  it('gives ERR_GUEST_TIMEOUT when the agent never answers hello', async () => {
    const { client } = await setup(() => undefined);
    const e = await rejection(client.waitReady({ timeoutMs: 1000 }));
    expect(e.code).toBe('ERR_GUEST_TIMEOUT');
    expect(e.message).toMatch(/not ready after 1000 ms/);
  });

  it('fails at once, clearly, on a protocol version mismatch', async () => {
    const { client } = await setup((msg, s) => s.helloOk(msg, 99));
    const t0 = Date.now();
    const e = await rejection(client.waitReady({ timeoutMs: 10_000 }));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(e.code).toBe('ERR_GUEST_PROTOCOL');
    expect(e.message).toMatch(new RegExp(`agent speaks protocol 99, hostd speaks ${PROTOCOL_VERSION}`));
  });

  it('ignores stale frames before the hello reply, then is strict', async () => {
    const { client } = await setup((msg, s, i) => {
      if (msg.t === 'req' && msg.method === 'hello') {
        s.send({ t: 'res', id: 77, result: { now: 1 } });
        s.send({ t: 'res', id: msg.id, result: { protocol: 1, nonce: 'wrong', agentVersion: 'old' } });
      }
      agent()(msg, s, i);
    });
    await client.waitReady({ timeoutMs: 3000 });
    expect(await client.call('ping', {})).toHaveProperty('now');
  });

  it('turns garbage into ERR_GUEST_PROTOCOL and a closed connection', async () => {
    const { client, fake } = await setup(
      agent((msg, s) => {
        if (msg.t === 'req' && msg.method === 'info') s.raw(randomBytes(64 * 1024));
      }),
    );
    await client.waitReady({ timeoutMs: 3000 });
    const e = await rejection(client.call('info', {}));
    expect(e.code).toBe('ERR_GUEST_PROTOCOL');
    expect(client.connected).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.sockets.size).toBe(0);
    const again = await rejection(client.call('ping', {}));
    expect(again.code).toBe('ERR_GUEST');
  });

  it('rejects an oversized frame length without buffering it', async () => {
    const { client } = await setup(
      agent((msg, s) => {
        const b = Buffer.alloc(8);
        b.writeUInt32BE(0x7fffffff, 0);
        b.writeUInt32BE(100, 4);
        if (msg.t === 'req') s.raw(b);
      }),
    );
    await client.waitReady({ timeoutMs: 3000 });
    const e = await rejection(client.call('info', {}));
    expect(e.code).toBe('ERR_GUEST_PROTOCOL');
    expect(e.message).toMatch(/exceeds limit/);
  });

  it('rejects malformed JSON, wrong result shapes, unknown ids and requests from the guest', async () => {
    const replies: Array<(id: number) => Buffer | object> = [
      () => {
        const h = Buffer.from('{"t":"res",');
        const b = Buffer.alloc(8);
        b.writeUInt32BE(4 + h.length, 0);
        b.writeUInt32BE(h.length, 4);
        return Buffer.concat([b, h]);
      },
      (id) => ({ t: 'res', id, result: { exitCode: 'three', signal: null, oomKilled: false } }),
      (id) => ({ t: 'res', id: id + 1000, result: {} }),
      () => ({ t: 'req', id: 5, method: 'ping', params: {} }),
      (id) => ({ t: 'data', id, ch: 'out' }),
      (id) => ({ t: 'res', id, result: { exitCode: 1, signal: null, oomKilled: false, __proto__: 1 }, extra: 'x'.repeat(10) }),
    ];
    const outcomes: string[] = [];
    for (const reply of replies) {
      const { client } = await setup(
        agent((msg, s) => {
          if (msg.t !== 'req') return;
          const r = reply(msg.id);
          if (Buffer.isBuffer(r)) s.raw(r);
          else s.send(r);
        }),
      );
      await client.waitReady({ timeoutMs: 3000 });
      try {
        await client.call('container.wait', { id: 'x' }, { timeoutMs: 2000 });
        outcomes.push('ok');
      } catch (e) {
        outcomes.push((e as ForkdError).code);
      }
    }
    expect(outcomes).toEqual(['ERR_GUEST_PROTOCOL', 'ERR_GUEST_PROTOCOL', 'ERR_GUEST_PROTOCOL', 'ERR_GUEST_PROTOCOL', 'ERR_GUEST_PROTOCOL', 'ok']);
  });

  it('times a call out with ERR_GUEST_TIMEOUT, cancels it, and stays usable; late replies are dropped', async () => {
    const cancelled: number[] = [];
    let lateId = 0;
    const { client } = await setup(
      agent((msg, s) => {
        if (msg.t === 'req' && msg.method === 'info') lateId = msg.id;
        if (msg.t === 'cancel') {
          cancelled.push(msg.id);
          s.send({ t: 'err', id: lateId, error: { code: 'ERR_CANCELLED', message: 'late' } });
        }
      }),
    );
    await client.waitReady({ timeoutMs: 3000 });
    const t0 = Date.now();
    const e = await rejection(client.call('info', {}, { timeoutMs: 200 }));
    expect(e.code).toBe('ERR_GUEST_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await client.call('ping', {})).toHaveProperty('now');
    expect(cancelled).toEqual([lateId]);
    expect(client.connected).toBe(true);
  });

  it('closes on a frame left half-sent', async () => {
    const { client } = await setup(
      agent((msg, s) => {
        if (msg.t === 'req') s.raw(Buffer.from([0, 0, 0, 100, 0, 0, 0, 10, 0x7b]));
      }),
      { frameStallMs: 200 },
    );
    await client.waitReady({ timeoutMs: 3000 });
    const e = await rejection(client.call('container.wait', { id: 'x' }));
    expect(e.code).toBe('ERR_GUEST_PROTOCOL');
    expect(e.message).toMatch(/incomplete/);
  });

  it('maps wire error codes to the catalogue and keeps the wire code', async () => {
    const { client } = await setup(
      agent((msg, s) => {
        if (msg.t === 'req') s.send({ t: 'err', id: msg.id, error: { code: 'ERR_CONTAINER_START', message: 'executable file `nope` not found' } });
      }),
    );
    await client.waitReady({ timeoutMs: 3000 });
    const e = await rejection(client.call('container.start', { id: 'c' }));
    expect(e.code).toBe('ERR_CONTAINER_START');
    expect(e.detail?.['wireCode']).toBe('ERR_CONTAINER_START');
  });

  it('validates params before sending', async () => {
    const { client } = await setup(agent());
    await client.waitReady({ timeoutMs: 3000 });
    const e = await rejection(client.call('container.start', { id: '../../etc' }));
    expect(e.code).toBe('ERR_VALIDATION');
  });

  it('streams exec output and stdin with credit, and respects cancel', async () => {
    const { client } = await setup(
      agent((msg, s) => {
        if (msg.t === 'req' && msg.method === 'container.exec') {
          s.send({ t: 'data', id: msg.id, ch: 'err' }, Buffer.from('warn\n'));
        }
        if (msg.t === 'data' && msg.ch === 'in') {
          if (msg.payload.length) s.send({ t: 'data', id: msg.id, ch: 'out' }, msg.payload);
          if (msg.end) s.send({ t: 'res', id: msg.id, result: { exitCode: 0, signal: null, timedOut: false } });
        }
      }),
    );
    await client.waitReady({ timeoutMs: 3000 });
    const h = client.exec({ id: 'c', command: ['cat'], stdin: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    h.stdout.on('data', (c: Buffer) => out.push(c));
    h.stderr.on('data', (c: Buffer) => err.push(c));
    const big = randomBytes(LIMITS.initialWindowBytes * 2 + 123);
    // The fake never grants credit: only the initial window may be sent, then the writer waits.
    h.stdin!.write(big.subarray(0, 1000));
    h.stdin!.end();
    expect(await h.result).toEqual({ exitCode: 0, signal: null, timedOut: false });
    expect(Buffer.concat(out).length).toBe(1000);
    expect(Buffer.concat(err).toString()).toBe('warn\n');
  });

  it('closes the connection when the agent streams beyond its credit', async () => {
    const { client } = await setup(
      agent((msg, s) => {
        if (msg.t === 'req' && msg.method === 'container.logs') {
          const chunk = Buffer.alloc(LIMITS.chunkBytes, 0x61);
          for (let i = 0; i < 100; i++) s.send({ t: 'data', id: msg.id, ch: 'out' }, chunk);
        }
      }),
    );
    await client.waitReady({ timeoutMs: 3000 });
    const h = client.logs({ id: 'c', follow: true });
    // Nobody reads: the client must not buffer beyond its window.
    const e = await rejection(h.result);
    expect(e.code).toBe('ERR_GUEST_PROTOCOL');
    expect(e.message).toMatch(/overran its credit/);
  });

  it('bounds an endless well-behaved stream by credit and cancels it', async () => {
    let sent = 0;
    let credit = LIMITS.initialWindowBytes;
    let id = 0;
    let cancelled = false;
    let timer: NodeJS.Timeout | null = null;
    const { client } = await setup(
      agent((msg, s) => {
        if (msg.t === 'req' && msg.method === 'container.logs') {
          id = msg.id;
          timer = setInterval(() => {
            while (credit >= 100 && !cancelled) {
              const line = Buffer.from(`2026-01-01T00:00:00.000Z stdout F line ${sent}`.padEnd(99, '.') + '\n');
              s.send({ t: 'data', id, ch: 'out' }, line);
              credit -= line.length;
              sent += line.length;
            }
          }, 5);
        }
        if (msg.t === 'credit') credit += msg.bytes;
        if (msg.t === 'cancel') {
          cancelled = true;
          if (timer) clearInterval(timer);
        }
      }),
    );
    await client.waitReady({ timeoutMs: 3000 });
    const h = client.logs({ id: 'c', follow: true });
    let n = 0;
    for await (const rec of h.records) {
      expect(rec.stream).toBe('stdout');
      if (++n === 5000) break;
    }
    h.cancel();
    const e = await rejection(h.result);
    expect(e.detail?.['wireCode']).toBe('ERR_CANCELLED');
    // Sent never ran ahead of what was read by more than the window plus one stream buffer.
    expect(sent - n * 100).toBeLessThanOrEqual(LIMITS.initialWindowBytes * 2 + LIMITS.chunkBytes * 2);
    expect(client.connected).toBe(true);
    if (timer) clearInterval(timer);
  });

  it('uploads a layer with flow control', async () => {
    const received: Buffer[] = [];
    const { client } = await setup(
      agent((msg, s) => {
        if (msg.t === 'data' && msg.ch === 'in') {
          received.push(msg.payload);
          s.send({ t: 'credit', id: msg.id, ch: 'in', bytes: msg.payload.length || 1 });
          if (msg.end) s.send({ t: 'res', id: msg.id, result: { diffId: `sha256:${'0'.repeat(64)}`, skipped: false, files: 1, bytes: 5 } });
        }
      }),
    );
    await client.waitReady({ timeoutMs: 3000 });
    const data = randomBytes(1024 * 1024 + 7);
    async function* src() {
      for (let i = 0; i < data.length; i += 100_000) yield data.subarray(i, i + 100_000);
    }
    const r = await client.putLayer({ diffId: `sha256:${'0'.repeat(64)}`, size: data.length, source: src() });
    expect(r.files).toBe(1);
    expect(Buffer.concat(received).equals(data)).toBe(true);
  });

  it('copes with replies delivered one byte at a time', async () => {
    const { client } = await setup((msg, s) => {
      if (msg.t !== 'req') return;
      const dribble = (h: object) => {
        const f = encodeFrame(h);
        let i = 0;
        const tick = () => {
          if (i < f.length) {
            s.raw(f.subarray(i, i + 1));
            i++;
            setImmediate(tick);
          }
        };
        tick();
      };
      if (msg.method === 'hello') dribble({ t: 'res', id: msg.id, result: { protocol: PROTOCOL_VERSION, nonce: (msg.params as { nonce: string }).nonce, agentVersion: 'slow' } });
      else if (msg.method === 'ping') dribble({ t: 'res', id: msg.id, result: { now: 5 } });
    });
    await client.waitReady({ timeoutMs: 5000 });
    expect(await client.call('ping', {})).toEqual({ now: 5 });
  });

  it('cancels a log follow when the consumer stops iterating', async () => {
    const cancelled: number[] = [];
    const { client } = await setup(
      agent((msg, s) => {
        if (msg.t === 'req' && msg.method === 'container.logs') {
          s.send({ t: 'data', id: msg.id, ch: 'out' }, Buffer.from('2026-01-01T00:00:00.000Z stdout F a\n2026-01-01T00:00:00.000Z stdout F b\n'));
        }
        if (msg.t === 'cancel') cancelled.push(msg.id);
      }),
    );
    await client.waitReady({ timeoutMs: 3000 });
    const h = client.logs({ id: 'c', follow: true });
    for await (const r of h.records) {
      expect(r.text).toBe('a');
      break;
    }
    expect((await rejection(h.result)).detail?.['wireCode']).toBe('ERR_CANCELLED');
    await new Promise((r) => setTimeout(r, 50));
    expect(cancelled).toHaveLength(1);
  });

  it('close() rejects pending calls and removes nothing it did not create', async () => {
    const { client, fake } = await setup(agent());
    await client.waitReady({ timeoutMs: 3000 });
    const p = client.call('container.wait', { id: 'c' });
    client.close();
    const e = await rejection(p);
    expect(e.code).toBe('ERR_GUEST');
    expect(existsSync(fake.path)).toBe(true);
    rmSync(fake.path, { force: true });
  });
});
