import { connect, createServer, type Server } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { createLogger } from '../../contracts/logger.js';
import type { AgentClient } from '../agent/agent-client.js';
import { PortPublisher } from './port-publisher.js';

/** An agent whose port.connect upper-cases what it gets and finishes when its input ends. */
function fakeAgent() {
  const calls = { ports: [] as number[], cancelled: 0, open: 0 };
  const agent = {
    portConnect(port: number) {
      calls.ports.push(port);
      calls.open++;
      const input = new PassThrough();
      const output = new PassThrough();
      let settle!: (e: Error | null) => void;
      const result = new Promise<{ bytesIn: number; bytesOut: number }>((resolve, reject) => {
        settle = (e) => {
          calls.open--;
          output.end();
          if (e) reject(e);
          else resolve({ bytesIn: 0, bytesOut: 0 });
        };
      });
      result.catch(() => undefined);
      input.on('data', (d: Buffer) => output.write(d.toString().toUpperCase()));
      input.on('end', () => settle(null));
      return { input, output, result, cancel: () => { calls.cancelled++; settle(new ForkdError('ERR_GUEST', 'cancelled')); } };
    },
  };
  return { calls, agent: () => agent as unknown as AgentClient };
}

function roundTrip(port: number, payload: string, opts: { halfClose: boolean }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let out = '';
    s.on('data', (d) => { out += d.toString(); });
    s.on('error', reject);
    s.on('end', () => { s.end(); resolve(out); });
    s.write(payload, () => { if (opts.halfClose) s.end(); });
  });
}

const log = createLogger('error');
let publisher: PortPublisher;
let blocker: Server | undefined;

afterEach(async () => {
  await publisher?.closeAll();
  await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
  blocker = undefined;
});

describe('PortPublisher', () => {
  it('binds 127.0.0.1 on free ports and tunnels each connection to its container port, half-close included', async () => {
    publisher = new PortPublisher(log);
    const { calls, agent } = fakeAgent();
    const ports = await publisher.publish('vm1', agent, [{ containerPort: 80 }, { containerPort: 6379, hostPort: 0 }]);
    expect(ports).toHaveLength(2);
    for (const p of ports) {
      expect(p.hostAddress).toBe('127.0.0.1');
      expect(p.hostPort).toBeGreaterThan(0);
    }
    expect(publisher.published('vm1')).toEqual(ports);
    expect(await roundTrip(ports[0]!.hostPort, 'ping', { halfClose: true })).toBe('PING');
    expect(await roundTrip(ports[1]!.hostPort, 'hello', { halfClose: true })).toBe('HELLO');
    expect(calls.ports).toEqual([80, 6379]);
    expect(calls.open).toBe(0);
  });

  it('cancels the guest side when the client resets the connection', async () => {
    publisher = new PortPublisher(log);
    const { calls, agent } = fakeAgent();
    const [p] = await publisher.publish('vm1', agent, [{ containerPort: 80 }]);
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: p!.hostPort }, () => s.write('x', () => s.resetAndDestroy()));
      s.on('close', () => resolve());
    });
    for (let i = 0; i < 50 && calls.cancelled === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(calls.cancelled).toBe(1);
    expect(calls.open).toBe(0);
  });

  it('refuses a host port in use with ERR_CONFLICT and leaves none of the VM\'s ports bound', async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const taken = (blocker.address() as { port: number }).port;
    publisher = new PortPublisher(log);
    const { agent } = fakeAgent();
    const err = await publisher.publish('vm1', agent, [{ containerPort: 1 }, { containerPort: 2, hostPort: taken }]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_CONFLICT', field: 'ports' });
    expect(publisher.published('vm1')).toEqual([]);
    // The VM may publish again (nothing half-made is registered).
    expect(await publisher.publish('vm1', agent, [{ containerPort: 1 }])).toHaveLength(1);
  });

  it('drops a connection when the agent is unavailable, and stops listening on unpublish', async () => {
    publisher = new PortPublisher(log);
    const [p] = await publisher.publish('vm1', () => { throw new ForkdError('ERR_GUEST', 'not connected'); }, [{ containerPort: 80 }]);
    await expect(roundTrip(p!.hostPort, 'x', { halfClose: false })).resolves.toBe('');
    await publisher.unpublish('vm1');
    await expect(roundTrip(p!.hostPort, 'x', { halfClose: false })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await publisher.unpublish('vm1'); // idempotent
  });

  it('rejects a container port outside 1–65535', async () => {
    publisher = new PortPublisher(log);
    const { agent } = fakeAgent();
    await expect(publisher.publish('vm1', agent, [{ containerPort: 0 }])).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('binds the host address asked for (another loopback address here) and reports it', async () => {
    publisher = new PortPublisher(log);
    const { agent } = fakeAgent();
    const [p] = await publisher.publish('vm1', agent, [{ containerPort: 80, hostIp: '127.0.0.2' }]);
    expect(p).toMatchObject({ containerPort: 80, hostAddress: '127.0.0.2' });
    expect(await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.2', port: p!.hostPort }, () => s.end('hi'));
      let out = '';
      s.on('data', (d) => { out += d.toString(); });
      s.on('end', () => resolve(out));
      s.on('error', reject);
    })).toBe('HI');
    // Not on 127.0.0.1.
    await expect(roundTrip(p!.hostPort, 'x', { halfClose: false })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('names the field when the host address is malformed or not the host\'s', async () => {
    publisher = new PortPublisher(log);
    const { agent } = fakeAgent();
    await expect(publisher.publish('vm1', agent, [{ containerPort: 80, hostIp: '300.1.1.1' }])).rejects.toMatchObject({ code: 'ERR_VALIDATION', field: 'ports' });
    // 192.0.2.0/24 is TEST-NET-1: never an address of this host; binding fails locally, nothing is sent.
    await expect(publisher.publish('vm2', agent, [{ containerPort: 80, hostIp: '192.0.2.1' }])).rejects.toMatchObject({ code: 'ERR_VALIDATION', field: 'ports', message: expect.stringContaining('not an address of this host') });
  });
});
