// The bridge over a guest connection (guest-port.ts's GuestSocket, here a
// scripted Xvnc): the browser gets security None, the guest VncAuth with the
// password; after the handshakes bytes go both ways in order; the guest
// closing closes the page's socket with CLOSE_FAILED, the page closing closes
// the guest connection (its relay and stream lease).
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { GuestSocket } from './guest-port.js';
import { vncAuthResponse } from './vnc-auth.js';
import { bridge, CLOSE_FAILED } from './vnc-bridge.js';

const challenge = Buffer.from('0123456789abcdef');

/** A guest whose output the test pushes and whose input it reads. */
function scriptedGuest() {
  const queue: Array<Buffer | null> = [];
  let wake: (() => void) | undefined;
  const received: Buffer[] = [];
  let closed = false;
  const push = (b: Buffer | null) => { queue.push(b); wake?.(); };
  const socket: GuestSocket = {
    output: (async function* () {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((r) => { wake = r; });
        const b = queue.shift()!;
        if (b === null) return;
        yield b;
      }
    })(),
    write: async (b) => { received.push(Buffer.from(b)); },
    close: async () => { closed = true; },
  };
  return { socket, push, received: () => Buffer.concat(received), isClosed: () => closed };
}

let server: WebSocketServer | undefined;
afterEach(() => server?.close());

async function open(guest: GuestSocket): Promise<{ ws: WebSocket; reader: () => Promise<Buffer> }> {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('connection', (sock) => void bridge(sock, { connect: async () => guest, password: 'abcdefgh' }));
  await once(server, 'listening');
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
  const got: Buffer[] = [];
  let wake: (() => void) | undefined;
  ws.on('message', (d: Buffer) => { got.push(d); wake?.(); });
  await once(ws, 'open');
  const reader = async () => {
    while (got.length === 0) await new Promise<void>((r) => { wake = r; });
    return got.shift()!;
  };
  return { ws, reader };
}

describe('the VNC bridge over a guest connection', () => {
  it('does both handshakes, then carries bytes both ways in order', async () => {
    const g = scriptedGuest();
    g.push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 2]), challenge]));
    const { ws, reader } = await open(g.socket);
    // The guest's side first: the version, VncAuth chosen, and the response for the password.
    await expect.poll(() => g.received().length).toBe(12 + 1 + 16);
    expect(g.received().subarray(0, 13)).toEqual(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([2])]));
    expect(g.received().subarray(13)).toEqual(await vncAuthResponse('abcdefgh', challenge));
    g.push(Buffer.alloc(4)); // SecurityResult OK
    // Then the browser's: the server's version, only security type None, SecurityResult OK.
    expect((await reader()).toString()).toBe('RFB 003.008\n');
    ws.send(Buffer.from('RFB 003.008\n'));
    expect([...(await reader())]).toEqual([1, 1]);
    ws.send(Buffer.from([1]));
    expect([...(await reader())]).toEqual([0, 0, 0, 0]);
    // Piping: ClientInit and later messages reach the guest in order, the guest's bytes reach the page.
    ws.send(Buffer.from([1]));
    ws.send(Buffer.from('first'));
    ws.send(Buffer.from('second'));
    await expect.poll(() => g.received().subarray(29).toString('latin1')).toBe('\x01firstsecond');
    g.push(Buffer.from('server-init'));
    expect((await reader()).toString()).toBe('server-init');
    // The guest side ends: the page's socket closes with CLOSE_FAILED.
    const closed = once(ws, 'close');
    g.push(null);
    const [code] = (await closed) as [number];
    expect(code).toBe(CLOSE_FAILED);
    await expect.poll(() => g.isClosed()).toBe(true);
  });

  it('closes the guest connection when the page goes away', async () => {
    const g = scriptedGuest();
    g.push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 2]), challenge]));
    const { ws } = await open(g.socket);
    await expect.poll(() => g.received().length).toBeGreaterThan(0);
    expect(g.isClosed()).toBe(false); // control
    ws.close();
    await expect.poll(() => g.isClosed()).toBe(true);
  });
});
