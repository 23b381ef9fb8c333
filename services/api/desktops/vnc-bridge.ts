// One browser's WebSocket to one desktop's Xvnc: a TCP connection to the
// container's VNC port as hostd publishes it (on the host's loopback; hostd
// carries each connection into the guest with the agent's port.connect, so
// the guest needs no network to the host), the RFB handshake done by forkd on
// both sides (rfb-handshake.ts), then bytes both ways with backpressure.
import { connect, type Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { ForkdError } from '../../contracts/errors.js';
import { acceptClient, authenticateToServer, ByteReader } from './rfb-handshake.js';

/** WebSocket close codes the page understands (4000–4999 are the application's). */
export const CLOSE_REMOVED = 4404;
export const CLOSE_FAILED = 4502;
/** Pause reading the guest while this much is queued towards the browser. */
const HIGH_WATER = 4 * 1024 * 1024;

export interface VncTarget {
  host: string;
  port: number;
  password: string;
}

/** Live bridges by desktop id: closed with CLOSE_REMOVED when the desktop goes; counted by the idle sweep. */
export class BridgeRegistry {
  private readonly open = new Map<string, Set<WebSocket>>();

  add(id: string, ws: WebSocket): () => void {
    const set = this.open.get(id) ?? new Set();
    set.add(ws);
    this.open.set(id, set);
    return () => {
      set.delete(ws);
      if (set.size === 0) this.open.delete(id);
    };
  }

  has(id: string): boolean {
    return this.open.has(id);
  }

  ids(): string[] {
    return [...this.open.keys()];
  }

  closeAll(id: string, code: number, reason: string): void {
    for (const ws of this.open.get(id) ?? []) ws.close(code, reason);
  }
}

export async function bridge(ws: WebSocket, target: VncTarget): Promise<void> {
  const tcp: Socket = connect({ host: target.host, port: target.port });
  tcp.setNoDelay(true);
  const fromGuest = new ByteReader();
  const fromBrowser = new ByteReader();
  let piping = false;
  const closed = new Promise<void>((resolve) => {
    ws.on('close', () => { tcp.destroy(); fromBrowser.end(new Error('browser closed')); resolve(); });
    tcp.on('close', () => { fromGuest.end(new Error('guest closed')); if (ws.readyState === ws.OPEN) ws.close(CLOSE_FAILED, 'desktop connection closed'); resolve(); });
  });
  tcp.on('error', () => undefined); // 'close' follows and says it
  tcp.on('data', (chunk: Buffer) => {
    if (!piping) return fromGuest.push(chunk);
    ws.send(chunk, { binary: true }, () => { if (ws.bufferedAmount < HIGH_WATER) tcp.resume(); });
    if (ws.bufferedAmount >= HIGH_WATER) tcp.pause();
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return;
    if (!piping) return fromBrowser.push(data);
    if (!tcp.write(data)) { ws.pause(); tcp.once('drain', () => ws.resume()); }
  });
  try {
    await authenticateToServer(fromGuest, (b) => tcp.write(b), target.password);
    await acceptClient(fromBrowser, (b) => ws.send(b, { binary: true }));
    piping = true;
    const toGuest = fromBrowser.rest();
    if (toGuest.length > 0) tcp.write(toGuest);
    const toBrowser = fromGuest.rest();
    if (toBrowser.length > 0) ws.send(toBrowser, { binary: true });
  } catch (err) {
    const fe = err instanceof ForkdError ? err : new ForkdError('ERR_GUEST', `desktop connection failed: ${String((err as Error).message ?? err)}`);
    if (ws.readyState === ws.OPEN) ws.close(CLOSE_FAILED, fe.message.slice(0, 120));
    tcp.destroy();
  }
  await closed;
}
