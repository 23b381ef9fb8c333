import { describe, expect, it } from 'vitest';
import { checkParams, checkResult, METHODS, parseMessage } from './messages.js';
import { toForkdCode, WIRE_CODES } from './errors.js';
import { ERRORS } from '../errors.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const none = Buffer.alloc(0);
const digest = `sha256:${'a'.repeat(64)}`;

describe('messages', () => {
  it('accepts each message kind', () => {
    expect(parseMessage({ t: 'req', id: 1, method: 'ping', params: {} }, none).ok).toBe(true);
    expect(parseMessage({ t: 'res', id: 1, result: { now: 1 } }, none).ok).toBe(true);
    expect(parseMessage({ t: 'err', id: 0, error: { code: 'ERR_PROTOCOL', message: 'x' } }, none).ok).toBe(true);
    expect(parseMessage({ t: 'data', id: 1, ch: 'out', end: true }, Buffer.from('x')).ok).toBe(true);
    expect(parseMessage({ t: 'credit', id: 1, ch: 'in', bytes: 100 }, none).ok).toBe(true);
    expect(parseMessage({ t: 'cancel', id: 3 }, none).ok).toBe(true);
  });

  it('rejects malformed headers', () => {
    const bad: Array<Record<string, unknown>> = [
      {},
      { t: 'nope', id: 1 },
      { t: 'req', id: 0, method: 'ping', params: {} },
      { t: 'req', id: 1.5, method: 'ping', params: {} },
      { t: 'req', id: 1, method: 'ping' },
      { t: 'res', id: 1 },
      { t: 'res', id: -1, result: {} },
      { t: 'err', id: 1, error: 'x' },
      { t: 'err', id: 1, error: { code: 'X', message: 'm', detail: [1] } },
      { t: 'data', id: 1, ch: 'stdin' },
      { t: 'credit', id: 1, ch: 'in', bytes: 0 },
      { t: 'credit', id: 1, ch: 'in', bytes: 1e12 },
      { t: 'cancel', id: '1' },
    ];
    for (const h of bad) expect(parseMessage(h, none).ok, JSON.stringify(h)).toBe(false);
    expect(parseMessage({ t: 'res', id: 1, result: {} }, Buffer.from('x')).ok).toBe(false);
  });

  it('validates params and results per method', () => {
    expect(checkParams('container.create', { id: 'c1', image: digest, limits: { memoryMib: 16 } }).ok).toBe(true);
    expect(checkParams('container.create', { id: '../x', image: digest }).ok).toBe(false);
    expect(checkParams('container.create', { id: 'c1', image: 'busybox' }).ok).toBe(false);
    expect(checkParams('container.create', { id: 'c1', image: digest, tty: true, openStdin: true, rows: 24, cols: 80 }).ok).toBe(true);
    expect(checkParams('container.create', { id: 'c1', image: digest, tty: 'yes' }).ok).toBe(false);
    expect(checkParams('container.create', { id: 'c1', image: digest, tty: true, rows: 0 }).ok).toBe(false);
    expect(checkParams('container.attach', { id: 'c1', logs: true, stream: true, stdin: true }).ok).toBe(true);
    expect(checkParams('container.resize', { id: 'c1', rows: 40, cols: 120 }).ok).toBe(true);
    expect(checkParams('container.resize', { id: 'c1', execId: 'e1', rows: 40, cols: 120 }).ok).toBe(true);
    expect(checkParams('container.resize', { id: 'c1', rows: 40 }).ok).toBe(false);
    expect(checkParams('container.resize', { id: 'c1', execId: '../x', rows: 1, cols: 1 }).ok).toBe(false);
    expect(checkParams('container.exec', { id: 'c1', command: ['sh'], tty: true, execId: 'e1', rows: 24, cols: 80 }).ok).toBe(true);
    expect(checkParams('container.create', { id: 'c1', image: digest, env: ['NOEQUALS'] }).ok).toBe(false);
    const vol = { serial: '0190a1b2c3d47e5f8a9b', destination: '/data', readOnly: false };
    expect(checkParams('container.create', { id: 'c1', image: digest, volumes: [vol] }).ok).toBe(true);
    expect(checkParams('container.create', { id: 'c1', image: digest, volumes: [{ ...vol, serial: '../vdb' }] }).ok).toBe(false);
    expect(checkParams('container.create', { id: 'c1', image: digest, volumes: [{ ...vol, serial: 'x'.repeat(21) }] }).ok).toBe(false);
    expect(checkParams('container.create', { id: 'c1', image: digest, volumes: [{ ...vol, destination: 'rel' }] }).ok).toBe(false);
    expect(checkParams('container.create', { id: 'c1', image: digest, volumes: Array(9).fill(vol) }).ok).toBe(false);
    expect(checkParams('identity.set', { machineId: 'x' }).ok).toBe(false);
    expect(checkParams('identity.set', { network: { interface: 'eth0', address: '10.0.0.2/24', dns: ['10.0.0.1'] } }).ok).toBe(true);
    expect(checkParams('identity.set', { mac: '0a:f0:4d:12:ab:ef' }).ok).toBe(true);
    for (const mac of ['0A:F0:4D:12:AB:EF', '0a-f0-4d-12-ab-ef', '0af04d12abef', '0a:f0:4d:12:ab', '0a:f0:4d:12:ab:ef:00', '0b:f0:4d:12:ab:ef', ' 0a:f0:4d:12:ab:ef', 5]) {
      expect(checkParams('identity.set', { mac }).ok, String(mac)).toBe(false);
    }
    expect(checkResult('info', { agentVersion: 'a', protocol: 1, kernel: 'k', hostname: 'h', uptimeSec: 1, memory: { totalBytes: 1, availableBytes: 1 }, cgroup: 'v2', runtime: '', machineId: 'ab'.repeat(16) }).ok).toBe(true);
    const r = checkResult('container.wait', { exitCode: 3, signal: null, oomKilled: false });
    expect(r.ok).toBe(true);
    const bad = checkResult('container.wait', { exitCode: '3', signal: null, oomKilled: false });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toContain('$.result.exitCode');
  });

  it('declares streams only where they are used', () => {
    expect(METHODS['container.exec'].streams).toEqual({ in: true, out: true, err: true });
    expect(METHODS.ping.streams).toEqual({});
    expect(METHODS['port.connect'].streams).toEqual({ in: true, out: true });
  });

  it('bounds port.connect to a TCP port', () => {
    expect(checkParams('port.connect', { port: 6379 }).ok).toBe(true);
    expect(checkParams('port.connect', { port: 0 }).ok).toBe(false);
    expect(checkParams('port.connect', { port: 65536 }).ok).toBe(false);
    expect(checkParams('port.connect', { port: '80' }).ok).toBe(false);
  });

  it('maps every wire code to a catalogue code, unknown codes to ERR_GUEST', () => {
    for (const c of Object.values(WIRE_CODES)) expect(Object.hasOwn(ERRORS, c)).toBe(true);
    expect(toForkdCode('ERR_CONTAINER_START')).toBe('ERR_CONTAINER_START');
    expect(toForkdCode('WHATEVER')).toBe('ERR_GUEST');
    expect(toForkdCode('__proto__')).toBe('ERR_GUEST');
  });
});

describe('docs/agent-protocol.md', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/agent-protocol.md', import.meta.url)), 'utf8');
  it('documents every method and every wire code', () => {
    for (const m of Object.keys(METHODS)) expect(doc, m).toContain(`\`${m}\``);
    for (const c of Object.keys(WIRE_CODES)) expect(doc, c).toContain(`\`${c}\``);
  });
});
