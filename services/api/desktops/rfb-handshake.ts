// The bridge speaks the RFB handshake on both sides so the browser never holds
// the VNC password: to the guest's Xvnc it is a client doing VncAuth with the
// password forkd set after the fork; to the browser it is a server offering
// security type None (the browser already proved itself with its token). After
// both SecurityResults the two sides are at ClientInit and bytes are piped
// through unchanged (RFB 3.8, RFC 6143 §7.1–7.2).
import { ForkdError } from '../../contracts/errors.js';
import { vncAuthResponse } from './vnc-auth.js';

const VERSION_38 = Buffer.from('RFB 003.008\n');
const SEC_NONE = 1;
const SEC_VNC_AUTH = 2;

/** Reads exact byte counts off a stream of chunks; what is left after the handshake goes on to the pipe. */
export class ByteReader {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;

  push(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.waiter?.();
  }

  end(err: Error): void {
    this.ended = err;
    this.waiter?.();
  }

  async read(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      if (this.ended) throw this.ended;
      await new Promise<void>((resolve) => { this.waiter = resolve; });
      this.waiter = undefined;
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  /** Whatever arrived beyond the handshake. */
  rest(): Buffer {
    const out = this.buffered;
    this.buffered = Buffer.alloc(0);
    return out;
  }
}

function guestError(msg: string): ForkdError {
  return new ForkdError('ERR_GUEST', `desktop VNC handshake: ${msg}`);
}

/** Client half towards Xvnc: version, VncAuth with `password`, SecurityResult. */
export async function authenticateToServer(read: ByteReader, write: (b: Buffer) => void, password: string): Promise<void> {
  const version = await read.read(12);
  if (!version.toString('latin1').startsWith('RFB 003.')) throw guestError(`not an RFB server (${JSON.stringify(version.toString('latin1'))})`);
  write(VERSION_38);
  const count = (await read.read(1))[0]!;
  if (count === 0) {
    const len = (await read.read(4)).readUInt32BE(0);
    throw guestError(`server refused: ${(await read.read(len)).toString('utf8')}`);
  }
  const types = [...(await read.read(count))];
  if (!types.includes(SEC_VNC_AUTH)) throw guestError(`server does not offer VncAuth (offers ${types.join(',')})`);
  write(Buffer.from([SEC_VNC_AUTH]));
  const challenge = await read.read(16);
  write(await vncAuthResponse(password, challenge));
  const result = (await read.read(4)).readUInt32BE(0);
  if (result !== 0) {
    const len = (await read.read(4)).readUInt32BE(0);
    throw guestError(`VncAuth refused: ${(await read.read(len)).toString('utf8')}`);
  }
}

/** Server half towards the browser: version, security type None, SecurityResult OK. */
export async function acceptClient(read: ByteReader, write: (b: Buffer) => void): Promise<void> {
  write(VERSION_38);
  const version = (await read.read(12)).toString('latin1');
  if (!version.startsWith('RFB 003.')) throw new ForkdError('ERR_VALIDATION', 'the browser did not speak RFB', { field: 'vnc' });
  write(Buffer.from([1, SEC_NONE]));
  const chosen = (await read.read(1))[0];
  if (chosen !== SEC_NONE) throw new ForkdError('ERR_VALIDATION', `the browser chose security type ${chosen}, not None`, { field: 'vnc' });
  // 3.8 sends a SecurityResult after None too (3.3/3.7 do not; noVNC speaks 3.8).
  if (version >= 'RFB 003.008') write(Buffer.alloc(4));
}
