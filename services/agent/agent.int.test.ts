// The agent in a real guest: builds the guest image with the real agent bundle,
// boots it under raw QEMU (TCG), and drives it through the real AgentClient over
// the virtio-serial port. Raw QEMU is fine here; product code goes through
// libvirt. One guest at a time; QEMU is killed and temp files removed after.
//
//   npx vitest run --project integration services/agent

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type LogRecord } from '../contracts/agent-protocol/index.js';
import { ForkdError } from '../contracts/errors.js';
import { AgentClient } from '../hostd/agent/agent-client.js';
import { busyboxImage, type TestImage } from './testing/busybox-image.js';
import { rejection } from '../../test/support.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const haveBuilder = existsSync(join(repo, 'images/guest/build.ts'));
const haveQemu = (() => {
  try {
    execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let tmp = '';
let qemu: ChildProcess | null = null;
let console_ = '';
let client: AgentClient;
let image: TestImage;
const measured: Record<string, number | string> = {};


async function collect(records: AsyncIterable<LogRecord>): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of records) out.push(r);
  return out;
}

/** Text read so far from a stream, and a wait for a pattern in it (bounded by the stream's end). */
function reader(s: NodeJS.ReadableStream): { text: () => string; until: (re: RegExp) => Promise<void> } {
  let text = '';
  const waiters: Array<() => void> = [];
  s.on('data', (c: Buffer) => { text += c.toString(); for (const w of waiters.splice(0)) w(); });
  s.on('end', () => { for (const w of waiters.splice(0)) w(); });
  return {
    text: () => text,
    until: async (re) => {
      while (!re.test(text)) {
        if ((s as NodeJS.ReadableStream & { readableEnded?: boolean }).readableEnded) throw new Error(`stream ended before ${re}: ${JSON.stringify(text)}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts).toString();
}

describe.skipIf(!haveBuilder || !haveQemu)('agent in a real guest (QEMU TCG)', () => {
  beforeAll(async () => {
    execFileSync(process.execPath, [join(repo, 'images/guest/bundle-agent.mjs')], { stdio: 'inherit' });
    const { buildGuestImage } = await import('../../images/guest/build.js');
    const t0 = Date.now();
    const guest = await buildGuestImage({ dataDir: process.env['FORKD_DATA_DIR'] ?? join(repo, 'var'), agentBundle: join(repo, 'dist/agent/agent.mjs') });
    measured['imageBuildMs'] = Date.now() - t0;
    image = await busyboxImage();
    tmp = mkdtempSync(join(tmpdir(), 'forkd-agent-int-'));
    const sock = join(tmp, 'agent.sock');
    const bootT0 = Date.now();
    qemu = spawn(
      'qemu-system-x86_64',
      [
        '-accel', 'tcg', '-m', '256', '-smp', '1', '-nographic', '-no-reboot',
        '-kernel', guest.kernel, '-initrd', guest.initramfs, '-append', guest.cmdline,
        '-drive', `file=${guest.rootDisk},if=virtio,format=qcow2,snapshot=on`,
        '-nic', 'user,model=virtio-net-pci,restrict=on',
        '-device', 'virtio-serial',
        '-chardev', `socket,id=ag,path=${sock},server=on,wait=off`,
        '-device', 'virtserialport,chardev=ag,name=org.forkd.agent.0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (c: Buffer) => {
      console_ = (console_ + c.toString()).slice(-64 * 1024);
    };
    qemu.stdout!.on('data', keep);
    qemu.stderr!.on('data', keep);
    // The socket appears once QEMU runs; the client retries until the agent answers.
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
    client = new AgentClient(sock, { attemptTimeoutMs: 2000 });
    try {
      const ready = await client.waitReady({ timeoutMs: 180_000 });
      measured['agentReadyAfterQemuStartMs'] = Date.now() - bootT0;
      measured['readyAttempts'] = ready.attempts;
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- guest console ---\n${console_.slice(-8000)}`);
    }
  });

  afterAll(() => {
    const serving = /forkd-agent: serving .*"processUptimeSec":([\d.]+)/.exec(console_);
    if (serving) measured['agentProcessStartToServingSec'] = Number(serving[1]);
    const sys = /system ready after ([\d.]+)s/.exec(console_);
    if (sys) measured['guestInitReadySec'] = Number(sys[1]);
    client?.close();
    if (qemu && qemu.exitCode === null) qemu.kill('SIGKILL');
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    console.log('agent int measurements', JSON.stringify(measured));
  });

  it('says hello and reports info', async () => {
    const info = await client.call('info', {});
    expect(info.protocol).toBe(PROTOCOL_VERSION);
    expect(info.cgroup).toBe('v2');
    expect(info.runtime).toMatch(/crun/);
    expect(info.memory.totalBytes).toBeGreaterThan(100 * 1024 * 1024);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await client.call('ping', {});
    measured['pingRoundTripMs'] = Number(((performance.now() - t0) / 10).toFixed(2));
  });

  it('sets the identity: hostname, machine-id, clock, entropy, network', async () => {
    const r = await client.call('identity.set', {
      hostname: 'forkd-test-guest',
      machineId: '0123456789abcdef0123456789abcdef',
      clockEpochMs: Date.now(),
      entropy: Buffer.alloc(256, 1).toString('base64'),
      network: { interface: 'eth0', address: '10.0.2.15/24', gateway: '10.0.2.2', dns: ['10.0.2.3'] },
    });
    expect(r.applied.sort()).toEqual(['clock', 'entropy', 'hostname', 'machineId', 'network']);
    const info = await client.call('info', {});
    expect(info.hostname).toBe('forkd-test-guest');
    const skew = Math.abs((await client.call('ping', {})).now - Date.now());
    measured['clockSkewAfterSetMs'] = skew;
    expect(skew).toBeLessThan(2000);
  });

  it('imports a busybox image (and skips its layer the second time)', async () => {
    const layer = image.layers[0]!;
    const src = async function* () {
      for (let i = 0; i < layer.tar.length; i += 64 * 1024) yield layer.tar.subarray(i, i + 64 * 1024);
    };
    const t0 = Date.now();
    const first = await client.call('image.import', { id: image.id, config: image.config, layers: [{ diffId: layer.diffId, size: layer.size }] });
    expect(first.missing).toEqual([layer.diffId]);
    const put = await client.putLayer({ diffId: layer.diffId, size: layer.size, source: src() });
    expect(put.skipped).toBe(false);
    expect((await client.call('image.import', { id: image.id, config: image.config, layers: [{ diffId: layer.diffId, size: layer.size }] })).complete).toBe(true);
    measured['layerImportMs'] = Date.now() - t0;
    measured['layerBytes'] = layer.size;
    const again = await client.putLayer({ diffId: layer.diffId, size: layer.size, source: src() });
    expect(again.skipped).toBe(true);
    expect((await client.call('image.list', {})).images.map((i) => i.id)).toContain(image.id);
  });

  it('runs a container to completion: output and exit code 3', async () => {
    await client.call('container.create', { id: 'hello', name: 'box1', image: image.id, command: ['sh', '-c', 'echo hello from $(hostname); echo to stderr >&2; exit 3'] });
    const t0 = Date.now();
    const started = await client.call('container.start', { id: 'hello' });
    measured['containerStartMs'] = Date.now() - t0;
    expect(started.pid).toBeGreaterThan(1);
    const w = await client.call('container.wait', { id: 'hello' }, { timeoutMs: 60_000 });
    expect(w).toEqual({ exitCode: 3, signal: null, oomKilled: false });
    const recs = await collect(client.logs({ id: 'hello' }).records);
    expect(recs.map((r) => `${r.stream}:${r.text}`)).toEqual(['stdout:hello from box1', 'stderr:to stderr']);
    const list = await client.call('container.list', {});
    expect(list.containers.find((c) => c.id === 'hello')).toMatchObject({ status: 'exited', exitCode: 3 });
    expect(await client.call('container.delete', { id: 'hello' })).toEqual({ deleted: true });
    // What one short container costs, start to delete, once the guest has run one (5 in a row).
    const t1 = performance.now();
    for (let i = 0; i < 5; i++) {
      // Created and started in one round trip (hostd's create does this).
      const made = await client.call('container.create', { id: `short-${i}`, image: image.id, command: ['true'], start: true });
      expect(made.started?.pid).toBeGreaterThan(1);
      expect(made.started?.container).toMatchObject({ id: `short-${i}` });
      expect((await client.call('container.wait', { id: `short-${i}` }, { timeoutMs: 60_000 })).exitCode).toBe(0);
      await client.call('container.delete', { id: `short-${i}` });
    }
    measured['shortContainerMs'] = Math.round((performance.now() - t1) / 5);
  });

  it('rehearses a container (ready pool) over the image or over nothing, and leaves nothing a request could see', async () => {
    const before = await client.call('container.list', {});
    const over = await client.call('container.rehearse', { image: image.id });
    expect(over.image).toBe(true);
    measured['rehearsalMs'] = over.ms;
    expect((await client.call('container.rehearse', {})).image).toBe(false);
    // An image the guest lacks is no error: the rehearsal runs over an empty root.
    expect((await client.call('container.rehearse', { image: `sha256:${'0'.repeat(64)}` })).image).toBe(false);
    expect(await client.call('container.list', {})).toEqual(before);
    // Its crun id and cgroup are free again: a real container starts and runs after it.
    await client.call('container.create', { id: 'after-rehearsal', image: image.id, command: ['true'] });
    const t0 = Date.now();
    await client.call('container.start', { id: 'after-rehearsal' });
    measured['containerStartAfterRehearsalMs'] = Date.now() - t0;
    expect(await client.call('container.wait', { id: 'after-rehearsal' }, { timeoutMs: 60_000 })).toMatchObject({ exitCode: 0 });
    await client.call('container.delete', { id: 'after-rehearsal' });
  });

  it('holds a container ahead (ready pool); the next create of its image takes it, with the request\'s command, environment, hostname and files, and nothing of the launcher left', async () => {
    const held = await client.call('container.hold', { image: image.id });
    expect(held).toMatchObject({ held: true });
    measured['holdMs'] = held.ms;
    expect((await client.call('container.list', {})).containers.map((c) => c.id)).not.toContain('from-held');
    const script = [
      'echo "$(hostname) $HOSTNAME $GREETING $IMAGE_VAR $(cat /etc/hostname) $(grep -c heldbox /etc/hosts) $(pwd)"',
      // pid 1 is this shell: the launcher's descriptors 3 and 4 closed with its exec, while the same probe sees its stdout (builtins: a pipeline would open some).
      'for fd in 1 3 4; do [ -e /proc/1/fd/$fd ] && echo "fd $fd is open"; done; echo fds checked',
      'tr "\\0" " " < /proc/1/cmdline; echo',
      'exit 4',
    ].join('; ');
    expect(await client.call('container.create', { id: 'from-held', name: 'heldbox', image: image.id, command: ['sh', '-c', script], env: ['GREETING=hi'] })).toMatchObject({ held: true });
    const t0 = Date.now();
    const started = await client.call('container.start', { id: 'from-held' });
    measured['heldStartMs'] = Date.now() - t0;
    expect(started.pid).toBeGreaterThan(1);
    expect(await client.call('container.wait', { id: 'from-held' }, { timeoutMs: 60_000 })).toEqual({ exitCode: 4, signal: null, oomKilled: false });
    const lines = (await collect(client.logs({ id: 'from-held' }).records)).map((r) => `${r.stream}:${r.text}`);
    expect(lines).toEqual(['stdout:heldbox heldbox hi 1 heldbox 1 /', 'stdout:fd 1 is open', 'stdout:fds checked', `stdout:sh -c ${script} `]);
    await client.call('container.delete', { id: 'from-held' });

    // A long-running one: exec, stats, kill and delete go by the held crun id and cgroup.
    await client.call('container.hold', { image: image.id });
    expect(await client.call('container.create', { id: 'held-long', image: image.id, command: ['sleep', '1000'] })).toMatchObject({ held: true });
    await client.call('container.start', { id: 'held-long' });
    const ex = client.exec({ id: 'held-long', command: ['sh', '-c', 'hostname; tr "\\0" " " < /proc/1/cmdline; echo; echo $GREETING'], env: ['GREETING=exec'] });
    expect(await readAll(ex.stdout)).toBe('held-long\nsleep 1000 \nexec\n');
    expect((await ex.result).exitCode).toBe(0);
    const st = await client.call('container.stats', { id: 'held-long' });
    expect(st.pids.current).toBe(1);
    expect(st.memory.currentBytes).toBeGreaterThan(0);
    await client.call('container.kill', { id: 'held-long', signal: 'SIGKILL' });
    expect((await client.call('container.wait', { id: 'held-long' }, { timeoutMs: 30_000 })).exitCode).toBe(137);
    expect(await client.call('container.delete', { id: 'held-long' })).toEqual({ deleted: true });

    // A command that is not there: the same error as crun's, the container not started.
    await client.call('container.hold', { image: image.id });
    await client.call('container.create', { id: 'held-missing', image: image.id, command: ['/no/such/binary'] });
    const e = await rejection(client.call('container.start', { id: 'held-missing' }));
    expect(e.code).toBe('ERR_CONTAINER_START');
    expect(e.message).toContain('executable file `/no/such/binary` not found in $PATH');
    await client.call('container.delete', { id: 'held-missing' });

    // A create that does not fit the hold (a terminal, limits) gives it up and runs as always; the next one finds none.
    await client.call('container.hold', { image: image.id });
    expect((await client.call('container.create', { id: 'not-held', image: image.id, command: ['sh', '-c', 'cat /sys/fs/cgroup/memory.max'], limits: { memoryMib: 32 } })).held).toBeUndefined();
    await client.call('container.start', { id: 'not-held' });
    expect(await client.call('container.wait', { id: 'not-held' }, { timeoutMs: 60_000 })).toMatchObject({ exitCode: 0 });
    expect((await collect(client.logs({ id: 'not-held' }).records)).map((r) => r.text)).toEqual([String(32 * 1024 * 1024)]);
    await client.call('container.delete', { id: 'not-held' });
    expect((await client.call('container.list', {})).containers.filter((c) => /held/.test(c.id))).toEqual([]);
  });

  it('execs into a long-running container with stdin, and reports stats', async () => {
    await client.call('container.create', { id: 'long', image: image.id, command: ['sleep', '1000'], limits: { memoryMib: 64, pids: 50, cpus: 0.5 } });
    await client.call('container.start', { id: 'long' });
    const h = client.exec({ id: 'long', command: ['sh', '-c', 'echo out; echo err >&2; cat; echo $IMAGE_VAR; exit 5'], stdin: true });
    h.stdin!.end('piped\n');
    const [out, err, res] = await Promise.all([readAll(h.stdout), readAll(h.stderr), h.result]);
    expect(out).toBe('out\npiped\n1\n');
    expect(err).toBe('err\n');
    expect(res).toEqual({ exitCode: 5, signal: null, timedOut: false });
    // The agent is never the OOM killer's pick (-1000); the container's process and an exec's are, as usual (0).
    const adj = client.exec({ id: 'long', command: ['cat', '/proc/1/oom_score_adj', '/proc/self/oom_score_adj'] });
    expect(await readAll(adj.stdout)).toBe('0\n0\n');
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) expect((await client.exec({ id: 'long', command: ['true'] }).result).exitCode).toBe(0);
    measured['execRoundTripMs'] = Math.round((performance.now() - t0) / 5);
    // 4 MiB of output through the credit window (16 windows' worth).
    const big = client.exec({ id: 'long', command: ['head', '-c', '4194304', '/dev/zero'] });
    const bigT0 = performance.now();
    let bigBytes = 0;
    for await (const c of big.stdout as AsyncIterable<Buffer>) bigBytes += c.length;
    expect((await big.result).exitCode).toBe(0);
    expect(bigBytes).toBe(4 * 1024 * 1024);
    measured['execStdoutMiBps'] = Number((4 / ((performance.now() - bigT0) / 1000)).toFixed(2));
    const timed = await client.exec({ id: 'long', command: ['sleep', '100'], timeoutMs: 500 }).result;
    expect(timed.timedOut).toBe(true);
    const missing = await rejection(client.exec({ id: 'long', command: ['/no/such/tool'] }).result);
    expect(missing.code).toBe('ERR_CONTAINER_START');
    const stats = await client.call('container.stats', { id: 'long' });
    expect(stats.memory.maxBytes).toBe(64 * 1024 * 1024);
    expect(stats.memory.currentBytes).toBeGreaterThan(0);
    expect(stats.pids).toEqual({ current: 1, max: 50 });
    expect(stats.cpu.usageUsec).toBeGreaterThan(0);
    await client.call('container.kill', { id: 'long', signal: 'SIGKILL' });
    const w = await client.call('container.wait', { id: 'long' }, { timeoutMs: 30_000 });
    expect(w.exitCode).toBe(137);
    await client.call('container.delete', { id: 'long' });
  });

  it('follows logs until the container exits', async () => {
    await client.call('container.create', { id: 'chatty', image: image.id, command: ['sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 1; done'] });
    await client.call('container.start', { id: 'chatty' });
    const h = client.logs({ id: 'chatty', follow: true });
    const recs = await collect(h.records);
    expect(recs.map((r) => r.text)).toEqual(['line 1', 'line 2', 'line 3']);
    expect((await h.result).lines).toBe(3);
    expect((await client.call('container.wait', { id: 'chatty' })).exitCode).toBe(0);
    // Cancelling a follow of a running container ends it cleanly.
    await client.call('container.create', { id: 'forever', image: image.id, command: ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'] });
    await client.call('container.start', { id: 'forever' });
    const f = client.logs({ id: 'forever', follow: true });
    let n = 0;
    for await (const r of f.records) {
      expect(r.text).toBe('tick');
      if (++n === 3) break;
    }
    f.cancel();
    expect((await rejection(f.result)).detail?.['wireCode']).toBe('ERR_CANCELLED');
    await client.call('container.delete', { id: 'forever', force: true });
    await client.call('container.delete', { id: 'chatty' });
  });

  it('reports a command that does not exist as ERR_CONTAINER_START, quickly', async () => {
    await client.call('container.create', { id: 'nocmd', image: image.id, command: ['/no/such/binary'] });
    const t0 = Date.now();
    const e = await rejection(client.call('container.start', { id: 'nocmd' }, { timeoutMs: 30_000 }));
    expect(e.code).toBe('ERR_CONTAINER_START');
    expect(e.message).toMatch(/no\/such\/binary|not found|No such file/i);
    expect(Date.now() - t0).toBeLessThan(20_000);
    measured['missingCommandMessage'] = e.message;
    await client.call('container.delete', { id: 'nocmd' });
  });

  it('reports oomKilled for a container over its 16 MiB limit, and the agent keeps answering', async () => {
    await client.call('container.create', { id: 'hog', image: image.id, command: ['tail', '/dev/zero'], limits: { memoryMib: 16 } });
    await client.call('container.start', { id: 'hog' });
    const w = await client.call('container.wait', { id: 'hog' }, { timeoutMs: 120_000 });
    expect(w.oomKilled).toBe(true);
    expect(w.exitCode).toBe(137);
    expect((await client.call('ping', {})).now).toBeGreaterThan(0);
    const stats = await client.call('container.stats', { id: 'hog' });
    expect(stats.memory.oomKills).toBeGreaterThan(0);
    await client.call('container.delete', { id: 'hog' });
    expect((await client.call('container.list', {})).containers).toEqual([]);
  });

  it('reaches a container port through port.connect (shared VM network)', async () => {
    await client.call('container.create', { id: 'web', image: image.id, command: ['sh', '-c', 'mkdir -p /www && echo served by busybox > /www/index.html && exec httpd -f -p 8080 -h /www'] });
    await client.call('container.start', { id: 'web' });
    let body = '';
    for (let attempt = 0; attempt < 20 && !body.includes('served by busybox'); attempt++) {
      const h = client.portConnect(8080);
      h.input.end('GET /index.html HTTP/1.0\r\n\r\n');
      body = await readAll(h.output);
      await h.result.catch(() => new Promise((r) => setTimeout(r, 250)));
    }
    expect(body).toMatch(/200 OK[\s\S]*served by busybox/);
    await client.call('container.delete', { id: 'web', force: true });
  });

  it('gives a tty container a terminal of the asked size, replays what it printed before the attach, and resizes it', async () => {
    await client.call('container.create', {
      id: 'term', image: image.id, tty: true, openStdin: true, rows: 30, cols: 90,
      command: ['sh', '-c', 'tty; stty size; echo TERM=$TERM; read line; echo got:$line; stty size; exit 3'],
    });
    await client.call('container.start', { id: 'term' });
    const h = client.attach({ id: 'term', logs: true, stream: true, stdin: true });
    const out = reader(h.stdout);
    const err = reader(h.stderr);
    await out.until(/30 90/);
    await client.call('container.resize', { id: 'term', rows: 40, cols: 120 });
    h.stdin!.write('hi\r');
    const r = await h.result;
    await out.until(/40 120/);
    expect(out.text()).toMatch(/^\/dev\/pts\/\d+\r\n30 90\r\nTERM=xterm\r\n/);
    expect(out.text()).toMatch(/got:hi\r\n40 120\r\n/);
    expect(err.text()).toBe(''); // a terminal has one output stream
    expect(r).toMatchObject({ exited: true, exitCode: 3 });
    // The log has it all too, and a later attach with logs replays it.
    const again = client.attach({ id: 'term', logs: true });
    expect(await readAll(again.stdout)).toContain('got:hi');
    expect((await again.result).exitCode).toBe(3);
    // Control: an exited container has no terminal to resize.
    expect((await rejection(client.call('container.resize', { id: 'term', rows: 1, cols: 1 }))).code).toBe('ERR_GUEST');
    await client.call('container.delete', { id: 'term' });
  });

  it('with openStdin and no terminal, attach writes stdin and its end is the half-close', async () => {
    await client.call('container.create', { id: 'cat', image: image.id, openStdin: true, command: ['sh', '-c', 'cat; echo end; echo to-err >&2'] });
    await client.call('container.start', { id: 'cat' });
    const h = client.attach({ id: 'cat', stdin: true });
    const out = reader(h.stdout);
    const err = reader(h.stderr);
    h.stdin!.write('abc\n');
    await out.until(/abc\n/);
    expect(out.text()).toBe('abc\n'); // still running: cat waits for more
    h.stdin!.end();
    const r = await h.result;
    await out.until(/end\n/);
    expect(out.text()).toBe('abc\nend\n');
    expect(err.text()).toBe('to-err\n');
    expect(r).toMatchObject({ exited: true, exitCode: 0 });
    await client.call('container.delete', { id: 'cat' });
  });

  it('runs a tty exec with its own size, resized by its exec id', async () => {
    await client.call('container.create', { id: 'idle', image: image.id, command: ['sleep', '600'] });
    await client.call('container.start', { id: 'idle' });
    const h = client.exec({ id: 'idle', command: ['sh', '-c', 'tty; stty size; read x; stty size; exit 6'], tty: true, execId: 'e1', rows: 10, cols: 50, stdin: true });
    const out = reader(h.stdout);
    reader(h.stderr);
    await out.until(/10 50/);
    // Control: another exec id has no terminal.
    expect((await rejection(client.call('container.resize', { id: 'idle', execId: 'e2', rows: 11, cols: 55 }))).code).toBe('ERR_GUEST');
    await client.call('container.resize', { id: 'idle', execId: 'e1', rows: 11, cols: 55 });
    h.stdin!.write('\r');
    const r = await h.result;
    await out.until(/11 55/);
    expect(out.text()).toMatch(/^\/dev\/pts\/\d+\r\n10 50\r\n/);
    expect(r.exitCode).toBe(6);
    await client.call('container.delete', { id: 'idle', force: true });
  });

  it('logged no uncaught errors on the guest console', () => {
    expect(console_).not.toMatch(/uncaught exception|unhandled rejection|handler failed|agent exited/);
  });

  it('survives a host reconnect: a new connection gets a fresh session', async () => {
    client.close();
    const c2 = new AgentClient(client.socketPath, { attemptTimeoutMs: 2000 });
    const t0 = Date.now();
    await c2.waitReady({ timeoutMs: 60_000 });
    measured['reconnectMs'] = Date.now() - t0;
    expect((await c2.call('info', {})).hostname).toBe('forkd-test-guest');
    client = c2;
  });
});
