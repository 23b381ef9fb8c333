import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldSpecPaths, launchFailure, launchMessage, sameButHandedOver, type Handover } from './held.js';
import { ociSpec, type SpecInput } from './oci-spec.js';
import { socketPair, spawnChild } from './posix-spawn.js';

const LAUNCH_C = fileURLToPath(new URL('../../images/guest/launcher/launch.c', import.meta.url));

let dir = '';
let launcher = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forkd-launch-'));
  launcher = join(dir, 'launch');
  // As the guest image build compiles it.
  execFileSync('cc', ['-static', '-Os', '-s', '-Wall', '-o', launcher, LAUNCH_C]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts the launcher as crun would (itself as descriptor 3, the agent's socket as 4), hands `h` over, returns its answer, output and exit. */
async function launch(h: Handover | null): Promise<{ reply: string; out: string; err: string; code: number | null }> {
  const [ours, theirs] = socketPair()!;
  const self = openSync(launcher, 'r');
  const child = spawnChild('/proc/self/fd/3', [], { stdio: ['ignore', 'pipe', 'pipe'], extraFds: [self, theirs], env: { HOME: '/home/from-crun', PATH: '/usr/bin:/bin' } });
  closeSync(self);
  closeSync(theirs);
  const channel = new Socket({ fd: ours, readable: true, writable: true, allowHalfOpen: true });
  let reply = '';
  channel.on('data', (c: Buffer) => (reply += c.toString()));
  // The answer ('+' or errno/step); end-of-file only comes once the child is gone (nothing else holds its end here).
  const answered = new Promise<void>((r) => channel.once('end', () => r()));
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const code = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  if (h) channel.end(launchMessage(h));
  else channel.end();
  await answered;
  channel.destroy();
  const exitCode = await code;
  return { reply, out, err, code: exitCode };
}

describe('the launcher (images/guest/launcher/launch.c)', () => {
  it('becomes the handed-over command: its arguments, environment and directory, with HOME from crun when the request has none, and none of its own descriptors', async () => {
    // Its descriptors 3 (the launcher itself) and 4 (the socket) closed with the exec.
    const r = await launch({ args: ['sh', '-c', 'echo "$0|$1|$GREETING|$HOME|$(pwd)"; for fd in 1 3 4; do [ -e /proc/$$/fd/$fd ] && echo "$fd is open"; done; true', 'a b'], env: ['PATH=/usr/bin:/bin', 'GREETING=hi'], cwd: dir });
    // '+': found, exec'd.
    expect(r.reply).toBe('+');
    // The same probe sees stdout (1) open: only 3 and 4 are gone.
    expect(r.out).toBe(`a b||hi|/home/from-crun|${dir}\n1 is open\n`);
    expect(r.code).toBe(0);
  });

  it('keeps the request\'s HOME when it has one', async () => {
    const r = await launch({ args: ['sh', '-c', 'echo $HOME'], env: ['PATH=/usr/bin:/bin', 'HOME=/root'], cwd: '/' });
    expect(r).toMatchObject({ reply: '+', out: '/root\n' });
  });

  it('answers a command that is not there with errno and step, exits 127, and the agent words it as crun does', async () => {
    const r = await launch({ args: ['no-such-command-forkd'], env: ['PATH=/usr/bin:/bin'], cwd: '/' });
    expect(r.reply).toBe('2\0exec\0');
    expect(r.code).toBe(127);
    expect(launchFailure(Buffer.from(r.reply), 'no-such-command-forkd').message).toBe('executable file `no-such-command-forkd` not found in $PATH: No such file or directory');
  });

  it('answers a working directory that is not there (chdir) and exits 127', async () => {
    const r = await launch({ args: ['true'], env: [], cwd: '/no/such/dir' });
    expect(r.reply).toBe('2\0chdir\0');
    expect(launchFailure(Buffer.from(r.reply), 'true').message).toBe('chdir `true`: ENOENT');
  });

  it('finds a program that then fails its exec (not a binary): says why on stderr and exits 126', async () => {
    await writeFile(join(dir, 'not-a-binary'), 'garbage\n', { mode: 0o755 });
    const r = await launch({ args: [join(dir, 'not-a-binary')], env: [], cwd: '/' });
    expect(r.reply).toBe('+');
    expect(r.err).toBe(`forkd-launch: exec ${join(dir, 'not-a-binary')}: Exec format error\n`);
    expect(r.code).toBe(126);
  });

  it('exits 0 without running anything when the agent gives it up (end-of-file, no command)', async () => {
    const r = await launch(null);
    expect(r).toEqual({ reply: '', out: '', err: '', code: 0 });
  });
});

describe('which request may take a held container (sameButHandedOver)', () => {
  const base: SpecInput = {
    args: ['/proc/self/fd/3'],
    env: ['PATH=/bin', 'HOSTNAME=held'],
    cwd: '/',
    user: { uid: 0, gid: 0 },
    hostname: 'held',
    limits: undefined,
    volumes: [],
    ...heldSpecPaths('/var/lib/forkd/held/_forkd-held-1', 'forkd/_forkd-held-1'),
  };
  const held = ociSpec(base);

  it('one that differs only in command, environment and hostname: those are handed over', () => {
    expect(sameButHandedOver(held, ociSpec({ ...base, args: ['sh', '-c', 'echo hi'], env: ['PATH=/bin', 'HOSTNAME=vm-1', 'A=1'], hostname: 'vm-1', limits: {} }))).toBe(true);
  });

  it('not one with limits, another user or working directory, a terminal or a volume', () => {
    expect(sameButHandedOver(held, ociSpec({ ...base, limits: { memoryMib: 64 } }))).toBe(false);
    expect(sameButHandedOver(held, ociSpec({ ...base, user: { uid: 1000, gid: 1000 } }))).toBe(false);
    expect(sameButHandedOver(held, ociSpec({ ...base, cwd: '/srv' }))).toBe(false);
    expect(sameButHandedOver(held, ociSpec({ ...base, terminal: { rows: 24, cols: 80 } }))).toBe(false);
    expect(sameButHandedOver(held, ociSpec({ ...base, volumes: [{ source: '/mnt/v', destination: '/data', readOnly: false }] }))).toBe(false);
  });
});
