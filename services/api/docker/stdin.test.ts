import { EventEmitter } from 'node:events';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { StreamOut } from './hijack.js';
import { readStdin } from './stdin.js';

/** A hijacked connection as readStdin sees it: bytes that came with the request, then the socket's events. */
function connection(rest?: string) {
  const socket = Object.assign(new EventEmitter(), { paused: false, pause() { this.paused = true; }, resume() { this.paused = false; }, isPaused() { return this.paused; } });
  const request = { raw: { upgradeRest: rest === undefined ? undefined : Buffer.from(rest) } } as unknown as FastifyRequest;
  return { socket, request, out: { socket } as unknown as StreamOut };
}

function session() {
  const got: string[] = [];
  return { got, write: async (d: Buffer) => { got.push(d.toString()); }, endStdin: async () => { got.push('<eof>'); } };
}

describe('the stdin of a hijacked connection', () => {
  it('keeps what came before the session opened, in order, with the half-close last', async () => {
    const c = connection('first ');
    const reader = readStdin(c.request, c.out, (err) => { throw err; });
    c.socket.emit('data', Buffer.from('second\n'));
    c.socket.emit('end');
    const s = session();
    reader.pipeTo(s);
    await new Promise((r) => setImmediate(r));
    expect(s.got).toEqual(['first ', 'second\n', '<eof>']);
  });

  it('forwards what comes after the session opened as it comes', async () => {
    const c = connection();
    const reader = readStdin(c.request, c.out, (err) => { throw err; });
    const s = session();
    reader.pipeTo(s);
    c.socket.emit('data', Buffer.from('a'));
    c.socket.emit('data', Buffer.from('b'));
    await new Promise((r) => setImmediate(r));
    expect(s.got).toEqual(['a', 'b']);
    c.socket.emit('end');
    await new Promise((r) => setImmediate(r));
    expect(s.got).toEqual(['a', 'b', '<eof>']);
  });

  it('hands a failed write to onError and goes on with the next', async () => {
    const c = connection();
    const errors: unknown[] = [];
    const reader = readStdin(c.request, c.out, (err) => errors.push(err));
    let first = true;
    const got: string[] = [];
    reader.pipeTo({ write: async (d) => { if (first) { first = false; throw new Error('relay down'); } got.push(d.toString()); }, endStdin: async () => undefined });
    c.socket.emit('data', Buffer.from('lost'));
    c.socket.emit('data', Buffer.from('kept'));
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
    expect(got).toEqual(['kept']);
  });
});
