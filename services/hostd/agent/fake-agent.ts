// A scriptable fake agent for unit tests of the client: a plain unix-socket
// server that decodes frames and lets each test decide what to send back,
// including garbage. Not used in production.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, FrameDecoder, parseMessage, PROTOCOL_VERSION, type Message } from '../../contracts/agent-protocol/index.js';

export interface FakeSession {
  socket: Socket;
  send(header: object, payload?: Uint8Array): void;
  raw(bytes: Uint8Array): void;
  /** Answers hello the way a real agent would. */
  helloOk(msg: Message, protocol?: number): void;
}

export type FakeHandler = (msg: Message, s: FakeSession, connectionIndex: number) => void;

export class FakeAgent {
  readonly dir = mkdtempSync(join(tmpdir(), 'forkd-fake-agent-'));
  readonly path = join(this.dir, 'agent.sock');
  private server: Server | null = null;
  readonly sockets = new Set<Socket>();
  connections = 0;

  constructor(private handler: FakeHandler) {}

  setHandler(h: FakeHandler): void {
    this.handler = h;
  }

  listen(): Promise<void> {
    this.server = createServer((socket) => {
      const index = this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      const session: FakeSession = {
        socket,
        send: (h, p) => {
          if (!socket.destroyed) socket.write(encodeFrame(h, p));
        },
        raw: (b) => {
          if (!socket.destroyed) socket.write(b);
        },
        helloOk: (msg, protocol = PROTOCOL_VERSION) => {
          if (msg.t !== 'req') return;
          const nonce = (msg.params as { nonce: string }).nonce;
          session.send({ t: 'res', id: msg.id, result: { protocol, nonce, agentVersion: 'fake-1' } });
        },
      };
      const dec = new FrameDecoder(
        (f) => {
          const m = parseMessage(f.header, f.payload);
          if (m.ok) this.handler(m.msg, session, index);
        },
        () => socket.destroy(),
        { maxPayloadBytes: 1024 * 1024 },
      );
      socket.on('data', (c: Buffer) => dec.push(c));
    });
    return new Promise((r) => this.server!.listen(this.path, r));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
