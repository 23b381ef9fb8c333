// The console socket on the host, with crun played by a small Python program
// that makes a pty, runs a shell on its slave and sends the master over the
// socket with SCM_RIGHTS, exactly as `crun --console-socket` does.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsoleSocket, koffiPath } from './terminal.js';

const havePython = (() => {
  try {
    execFileSync('python3', ['-c', 'import socket; socket.send_fds'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const dir = mkdtempSync(join(tmpdir(), 'forkd-term-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FAKE_CRUN = `
import os, socket, sys, fcntl, termios
m, s = os.openpty()
pid = os.fork()
if pid == 0:
    os.close(m); os.setsid(); fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2): os.dup2(s, fd)
    os.execv('/bin/sh', ['sh', '-c', 'tty; read x; stty size; echo got:$x; exit 3'])
os.close(s)
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); socket.send_fds(c, [b'x'], [m]); c.close(); os.close(m)
_, st = os.waitpid(pid, 0); sys.exit(os.waitstatus_to_exitcode(st))
`;

describe.skipIf(!havePython || koffiPath() === null)('the console socket', () => {
  it('receives a terminal, sizes it and carries bytes both ways', async () => {
    const sock = await ConsoleSocket.listen(join(dir, 'c.sock'));
    const child = spawn('python3', ['-c', FAKE_CRUN, sock.path], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const t = await sock.received;
    await sock.close();
    let out = '';
    let prompted!: () => void;
    const ready = new Promise<void>((r) => (prompted = r));
    t.stream.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) prompted(); });
    const ended = new Promise<void>((r) => t.stream.once('close', () => r()));
    await ready; // the shell printed its tty: it is reading now
    t.resize(40, 120);
    await t.write(Buffer.from('hi\r'));
    expect(await exited).toBe(3);
    await ended;
    expect(out).toMatch(/^\/dev\/pts\/\d+\r\n/);
    expect(out).toMatch(/hi\r\n40 120\r\ngot:hi\r\n/); // the terminal echoed the input
    t.close();
  });

  it('rejects when the peer closes without a terminal, and when closed first', async () => {
    const sock = await ConsoleSocket.listen(join(dir, 'd.sock'));
    const child = spawn('python3', ['-c', 'import socket,sys; c=socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); c.close()', sock.path], { stdio: 'ignore' });
    await expect(sock.received).rejects.toThrow(/without a terminal/);
    await new Promise((r) => child.once('close', r));
    await sock.close();
    const idle = await ConsoleSocket.listen(join(dir, 'e.sock'));
    await idle.close();
    await expect(idle.received).rejects.toThrow(/no terminal came/);
  });
});
