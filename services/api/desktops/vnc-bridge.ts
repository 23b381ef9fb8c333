// One browser's WebSocket to one desktop's Xvnc: a connection to the guest's
// loopback port 5901 through the API↔hostd relay and the agent's port.connect
// (guest-port.ts; nothing is published on the host, and the guest needs no
// network to the host), the RFB handshake done by forkd on both sides
// (rfb-handshake.ts), then bytes both ways with backpressure.
import type { WebSocket } from 'ws';
import { ForkdError } from '../../contracts/errors.js';
import type { GuestSocket } from './guest-port.js';
import { acceptClient, authenticateToServer, ByteReader } from './rfb-handshake.js';

/** WebSocket close codes the page understands (4000–4999 are the application's). */
export const CLOSE_REMOVED = 4404;
export const CLOSE_FAILED = 4502;
/** Pause reading the guest while this much is queued towards the browser. */
const HIGH_WATER = 4 * 1024 * 1024;

export interface VncTarget {
  /** Opens the connection to Xvnc (called once the browser's side is up). */
  connect(): Promise<GuestSocket>;
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
  const fromGuest = new ByteReader();
  const fromBrowser = new ByteReader();
  let piping = false;
  let guest: GuestSocket | undefined;
  let browserClosed = false;
  let pending = 0;
  const toGuest = (b: Buffer): void => {
    // Ordered by guest.write's chain; the browser's socket is paused while writes are queued (Redis is the slow side here).
    if (pending++ === 0) ws.pause();
    guest!.write(b).then(
      () => { if (--pending === 0) ws.resume(); },
      () => { if (ws.readyState === ws.OPEN) ws.close(CLOSE_FAILED, 'desktop connection lost'); },
    );
  };
  ws.on('close', () => { browserClosed = true; fromBrowser.end(new Error('browser closed')); void guest?.close(); });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return;
    if (!piping) return fromBrowser.push(data);
    toGuest(data);
  });
  try {
    guest = await target.connect();
    if (browserClosed) return void (await guest.close());
    const g = guest;
    const reading = (async () => {
      try {
        for await (const chunk of g.output) {
          if (!piping) { fromGuest.push(chunk); continue; }
          await sendToBrowser(ws, chunk);
        }
        fromGuest.end(new Error('guest closed'));
        if (ws.readyState === ws.OPEN) ws.close(CLOSE_FAILED, 'desktop connection closed');
      } catch (err) {
        fromGuest.end(err as Error);
        if (ws.readyState === ws.OPEN) ws.close(CLOSE_FAILED, String((err as Error).message ?? err).slice(0, 120));
      }
    })();
    await authenticateToServer(fromGuest, (b) => void g.write(b), target.password);
    await acceptClient(fromBrowser, (b) => ws.send(b, { binary: true }));
    piping = true;
    const early = fromBrowser.rest();
    if (early.length > 0) toGuest(early);
    const toBrowser = fromGuest.rest();
    if (toBrowser.length > 0) ws.send(toBrowser, { binary: true });
    await reading;
  } catch (err) {
    const fe = err instanceof ForkdError ? err : new ForkdError('ERR_GUEST', `desktop connection failed: ${String((err as Error).message ?? err)}`);
    if (ws.readyState === ws.OPEN) ws.close(CLOSE_FAILED, fe.message.slice(0, 120));
  } finally {
    await guest?.close();
  }
}

/** Sends one chunk; while 4 MiB wait towards the browser, waits for the send so the guest's side is not read (the relay holds the rest). */
async function sendToBrowser(ws: WebSocket, chunk: Buffer): Promise<void> {
  if (ws.readyState !== ws.OPEN) return;
  const sent = new Promise<void>((resolve) => ws.send(chunk, { binary: true }, () => resolve()));
  if (ws.bufferedAmount >= HIGH_WATER) await sent;
}
