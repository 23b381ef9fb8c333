// The raw-QEMU floor (issue 9: "pool take to agent-ready within 2× the floor"):
// the same template restored by a bare qemu-system process, no libvirt, timed
// in the same run as the pool takes so the floor is not a number from elsewhere.
//
// The command line is the one libvirt gave a pool shell of that template (read
// from /proc/<pid>/cmdline while the shell waits in `-incoming defer`), so the
// machine, devices and the template's memory file (mapped privately, as a
// clone's) are the same. What libvirt passed as descriptors becomes paths
// (monitor and agent sockets, console file), the NIC a tap QEMU makes itself
// and puts on no bridge (the device and its saved state stay the same; a
// backend without a vnet header is refused by virtio-net's state),
// the disk's top layer is a copy of the shell's fresh overlay, and the seccomp
// sandbox goes (it forbids the `exec:` migration URI used to read the state).
//
// One run: spawn → QMP answers (`spawnMs`), device state in (`incomingMs`,
// x-ignore-shared as hostd does), `cont` (`resumeMs`), the guest agent's
// hello + ping (`agentReadyMs`, hostd's own AgentClient). The take's
// counterpart is incoming + resume + agent (a pool shell is already spawned).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { AgentClient } from '../../services/hostd/agent/agent-client.js';
import { percentile } from './stats.js';

export interface FloorRun { spawnMs: number; incomingMs: number; resumeMs: number; agentReadyMs: number; totalMs: number }

export interface FloorResult {
  runs: number;
  /** p50 of each step and of the restore part (incoming + resume + agent), the counterpart of a pool take. */
  p50_ms: FloorRun & { restoreMs: number };
  samples: FloorRun[];
}

/** The QEMU argv of a running libvirt domain (its pid file under /run/libvirt/qemu). */
export function domainArgv(domainName: string): string[] {
  const pid = readFileSync(`/run/libvirt/qemu/${domainName}.pid`, 'utf8').trim();
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
}

/**
 * libvirt's argv made standalone under `dir`: descriptors become paths, the NIC
 * loses its backend, the top disk layer becomes `disk`, no sandbox. Pure.
 */
export function standaloneArgv(argv: readonly string[], dir: string, topDisk: { from: string; to: string }): string[] {
  const out: string[] = [argv[0]!];
  for (let i = 1; i < argv.length; i++) {
    const opt = argv[i]!;
    const val = argv[i + 1];
    const take = (v: string) => { out.push(opt, v); i++; };
    if (opt === '-sandbox' || opt === '-add-fd') { i++; continue; }
    if (opt === '-object' && val?.includes('"qom-type":"secret"')) { i++; continue; }
    if (opt === '-chardev' && val?.startsWith('socket,id=charmonitor,')) { take(`socket,id=charmonitor,path=${join(dir, 'qmp.sock')},server=on,wait=off`); continue; }
    if (opt === '-chardev' && /^socket,id=(charchannel\d+),fd=\d+/.test(val ?? '')) {
      const id = /^socket,id=([^,]+)/.exec(val!)![1]!;
      take(`socket,id=${id},path=${join(dir, 'agent.sock')},server=on,wait=off`);
      continue;
    }
    if (opt === '-chardev' && val?.includes('path=/dev/fdset/')) { take(val.replace(/path=\/dev\/fdset\/\d+/, `path=${join(dir, 'console.log')}`)); continue; }
    if (opt === '-netdev' && val?.includes('"type":"tap"')) {
      const id = (JSON.parse(val) as { id: string }).id;
      // Still a tap (virtio-net's saved state has the tap's vnet header; a hub port refuses it), made by QEMU, on no bridge.
      take(JSON.stringify({ type: 'tap', id, script: 'no', downscript: 'no' }));
      continue;
    }
    if (opt === '-blockdev' && val?.includes(JSON.stringify(topDisk.from))) { take(val.replace(JSON.stringify(topDisk.from), JSON.stringify(topDisk.to))); continue; }
    out.push(opt);
  }
  return out;
}

/** A minimal QMP client on a unix socket: one command at a time. */
class RawQmp {
  private buf = '';
  private waiter: ((msg: Record<string, unknown>) => void) | null = null;
  private failer: ((err: Error) => void) | null = null;
  private closed = false;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    // QEMU gone (it exits when an incoming stream is refused): the pending command fails instead of waiting forever.
    sock.on('close', () => { this.closed = true; this.failer?.(new Error('QMP connection closed')); });
    sock.on('error', () => undefined);
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const msg = JSON.parse(line) as Record<string, unknown>;
        if ('event' in msg) continue;
        const w = this.waiter;
        this.waiter = null;
        this.failer = null;
        w?.(msg);
      }
    });
  }

  static async open(path: string, deadline: number): Promise<RawQmp> {
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once('error', reject);
        });
        const q = new RawQmp(sock);
        await q.next(); // greeting
        await q.cmd('qmp_capabilities');
        return q;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  }

  private next(): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new Error('QMP connection closed'));
    return new Promise((resolve, reject) => { this.waiter = resolve; this.failer = reject; });
  }

  async cmd(execute: string, args?: object): Promise<unknown> {
    const reply = this.next();
    this.sock.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
    const msg = await reply;
    if (msg['error']) throw new Error(`QMP ${execute}: ${JSON.stringify(msg['error'])}`);
    return msg['return'];
  }

  close(): void {
    this.sock.destroy();
  }
}

/** One bare restore of the template behind `argv` (a pool shell's standalone argv) from `statePath`. */
export async function floorOnce(argv: readonly string[], dir: string, statePath: string): Promise<FloorRun> {
  let qemu: ChildProcess | null = null;
  let qmp: RawQmp | null = null;
  let agent: AgentClient | null = null;
  try {
    const t0 = performance.now();
    qemu = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    qemu.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<never>((_, reject) => {
      qemu!.once('exit', (code, sig) => setTimeout(() => reject(new Error(`qemu exited ${code ?? sig}: ${stderr.trim().slice(-400)}`)), 50));
      qemu!.once('error', reject);
    });
    exited.catch(() => undefined);
    // A step that fails because QEMU went (the QMP socket closes first) reports why QEMU went.
    const step = <T>(p: Promise<T>): Promise<T> => Promise.race([p, exited]).catch(async (err: unknown) => {
      await Promise.race([exited, new Promise((r) => setTimeout(r, 500))]).catch((e: unknown) => { throw e; });
      throw err;
    });
    qmp = await Promise.race([RawQmp.open(join(dir, 'qmp.sock'), Date.now() + 60_000), exited]);
    const t1 = performance.now();
    const q = qmp;
    await step(q.cmd('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] }));
    await step(q.cmd('migrate-incoming', { uri: `exec:cat ${statePath}` }));
    for (let poll = 1; ; poll = Math.min(poll * 2, 20)) {
      const st = (await step(q.cmd('query-migrate'))) as { status?: string };
      if (st.status === 'completed') break;
      if (st.status === 'failed' || st.status === 'cancelled') throw new Error(`floor: device state ${st.status}`);
      if (performance.now() - t1 > 60_000) throw new Error(`floor: device state still ${st.status ?? 'not started'} after 60 s`);
      await new Promise((r) => setTimeout(r, poll));
    }
    const t2 = performance.now();
    await step(q.cmd('cont'));
    const t3 = performance.now();
    agent = new AgentClient(join(dir, 'agent.sock'));
    await step(agent.waitReady({ timeoutMs: 60_000 }));
    const t4 = performance.now();
    const r = (a: number, b: number) => Math.round(b - a);
    return { spawnMs: r(t0, t1), incomingMs: r(t1, t2), resumeMs: r(t2, t3), agentReadyMs: r(t3, t4), totalMs: r(t0, t4) };
  } finally {
    agent?.close();
    qmp?.close();
    if (qemu && qemu.exitCode === null) {
      const gone = new Promise((r) => qemu!.once('exit', r));
      qemu.kill('SIGKILL');
      await gone;
    }
  }
}

/**
 * `runs` bare restores, one at a time, of the template behind the running pool
 * shell `shellDomain` (its overlay `shellDisk` is copied once, fresh, per run).
 */
export async function measureFloor(opts: { shellDomain: string; shellDisk: string; statePath: string; dir: string; runs: number }): Promise<FloorResult> {
  const base = domainArgv(opts.shellDomain);
  const samples: FloorRun[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const dir = join(opts.dir, `floor-${i}`);
    await mkdir(dir, { recursive: true });
    const disk = join(dir, 'disk.qcow2');
    copyFileSync(opts.shellDisk, disk);
    try {
      samples.push(await floorOnce(standaloneArgv(base, dir, { from: opts.shellDisk, to: disk }), dir, opts.statePath));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const p = (k: keyof FloorRun) => Math.round(percentile(samples.map((s) => s[k]), 50));
  const restore = Math.round(percentile(samples.map((s) => s.incomingMs + s.resumeMs + s.agentReadyMs), 50));
  return { runs: samples.length, p50_ms: { spawnMs: p('spawnMs'), incomingMs: p('incomingMs'), resumeMs: p('resumeMs'), agentReadyMs: p('agentReadyMs'), totalMs: p('totalMs'), restoreMs: restore }, samples };
}

/** The stack's idle pool shell (paused in `-incoming defer`): its domain, its overlay, and its template's state file. */
export function findPoolShell(dataDir: string, domains: readonly string[], paused: (name: string) => boolean): { shellDomain: string; shellDisk: string; statePath: string } | null {
  for (const name of domains) {
    let argv: string[];
    try { argv = domainArgv(name); } catch { continue; }
    // hostd keeps pool shells' files under run/pool/<id>/ until a take moves them to run/vms/.
    const poolDir = join(dataDir, 'run', 'pool') + '/';
    const disk = argv.map((a) => /"filename":"([^"]+)"/.exec(a)?.[1]).find((f) => f?.startsWith(poolDir));
    const mem = argv.map((a) => /mem-path=([^,]+),share=off/.exec(a)?.[1]).find((m) => m !== undefined);
    if (!disk || !mem || !argv.includes('-incoming') || !paused(name)) continue;
    return { shellDomain: name, shellDisk: disk, statePath: join(mem, '..', 'state') };
  }
  return null;
}
