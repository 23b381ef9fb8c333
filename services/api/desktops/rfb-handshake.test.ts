import { describe, expect, it } from 'vitest';
import { acceptClient, authenticateToServer, ByteReader } from './rfb-handshake.js';
import { vncAuthResponse } from './vnc-auth.js';

/** A scripted peer: what it sends, and what it expects to receive, in order. */
function wire() {
  const reader = new ByteReader();
  const sent: Buffer[] = [];
  return { reader, sent, write: (b: Buffer) => { sent.push(Buffer.from(b)); } };
}

describe('towards Xvnc, the bridge', () => {
  const challenge = Buffer.from('0123456789abcdef');

  it('answers VncAuth with the password and accepts an OK result', async () => {
    const w = wire();
    w.reader.push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 2]), challenge, Buffer.alloc(4), Buffer.from('init')]));
    await authenticateToServer(w.reader, w.write, 'abcdefgh');
    expect(w.sent[0]!.toString()).toBe('RFB 003.008\n');
    expect([...w.sent[1]!]).toEqual([2]);
    expect(w.sent[2]).toEqual(await vncAuthResponse('abcdefgh', challenge));
    expect(w.reader.rest().toString()).toBe('init'); // what came after the handshake is piped on
  });

  it('fails, naming the reason, when the password is refused', async () => {
    const w = wire();
    const reason = Buffer.from('Authentication failure');
    const len = Buffer.alloc(4); len.writeUInt32BE(reason.length);
    w.reader.push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 2]), challenge, Buffer.from([0, 0, 0, 1]), len, reason]));
    await expect(authenticateToServer(w.reader, w.write, 'wrong!!!')).rejects.toThrow(/VncAuth refused: Authentication failure/);
  });

  it('refuses a server without VncAuth (it would let anyone in)', async () => {
    const w = wire();
    w.reader.push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 1])]));
    await expect(authenticateToServer(w.reader, w.write, 'abcdefgh')).rejects.toThrow(/does not offer VncAuth/);
  });
});

describe('towards the browser, the bridge', () => {
  it('offers only security type None and sends SecurityResult OK', async () => {
    const w = wire();
    w.reader.push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1]), Buffer.from([1])]));
    await acceptClient(w.reader, w.write);
    expect(Buffer.concat(w.sent)).toEqual(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 1]), Buffer.alloc(4)]));
    expect([...w.reader.rest()]).toEqual([1]); // ClientInit (shared flag) goes on to Xvnc
  });

  it('refuses a client that asks for another security type', async () => {
    const w = wire();
    w.reader.push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([2])]));
    await expect(acceptClient(w.reader, w.write)).rejects.toThrow(/security type 2/);
  });
});
