// Interactive I/O end to end with the real CLI (docs/interactive.md): stdin
// and its half-close (`run -i`), a real terminal in the guest with this
// terminal's size (`run -it`, `exec -it`, under `script`), resizing a running
// container's terminal, and a client that vanishes mid-attach leaving no
// stream lease or job behind. One stack and few VMs: TCG boots are slow.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { hostStreamQueueName } from '../services/contracts/jobs.js';
import { PACKAGE_ROOT } from '../services/contracts/config.js';
import { runCli, startStack, type CliResult, type Stack } from './harness.js';

let stack: Stack;
let work: string;
let redis: Redis;

beforeAll(async () => {
  stack = await startStack({ name: 'interactive' });
  redis = new Redis(stack.env.REDIS_URL!, { maxRetriesPerRequest: null });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-interactive-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const r = await runCli(['image', 'import', join(work, 'busybox.tar')], stack.env);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(async () => {
  const ps = await runCli(['ps', '-a', '--json'], stack.env).catch(() => null);
  for (const c of ps?.code === 0 ? (JSON.parse(ps.stdout) as { id: string }[]) : []) await runCli(['rm', '-f', c.id], stack.env);
  redis?.disconnect();
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

// Output seen through `script` has `\r\n` line ends, made by the container's
// terminal: the CLI turns output post-processing off on ours (`stty -opost`),
// which Node's raw mode leaves on.

/** The CLI under a pseudo-terminal of `rows`×`cols` (util-linux `script`), as a person at a terminal runs it. */
function underTerminal(args: string[], size: { rows: number; cols: number }, timeoutMs = 600_000): Promise<CliResult> {
  const quoted = [process.execPath, join(PACKAGE_ROOT, 'bin', 'forkd.js'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const cmd = `stty rows ${size.rows} cols ${size.cols}; ${quoted}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...stack.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** Stream leases held now, every tenant (services/api/streams/). */
async function leases(): Promise<number> {
  let n = 0;
  for (const k of await redis.keys('forkd:streams:tenant:*')) n += await redis.zcard(k);
  return n;
}

/** Polls `check` until it holds, at most `tries` times a second apart. */
async function eventually(check: () => Promise<boolean>, tries = 60): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await sleep(1000);
  }
  return false;
}

describe('forkd run -i', () => {
  it('feeds stdin to the container and ends it at EOF (the half-close), exiting with its code', async () => {
    const r = await runCli(['run', '--rm', '-i', 'busybox', '--', 'sh', '-c', 'cat; echo done; exit 4'], stack.env, { input: 'x\n', timeoutMs: 600_000 });
    expect(r.stdout, r.stderr).toBe('x\ndone\n');
    expect(r.code).toBe(4);
  });
});

describe('forkd run -it', () => {
  it('gives the container a terminal of this terminal\'s size', async () => {
    const r = await underTerminal(['run', '--rm', '-it', 'busybox', '--', 'sh', '-c', 'tty; stty size; exit 2'], { rows: 33, cols: 101 });
    expect(r.stdout, r.stderr).toMatch(/\/dev\/pts\/\d+\r\n/);
    expect(r.stdout).toMatch(/33 101\r\n/);
    expect(r.code).toBe(2);
  });

  it('control: without -t the container has no terminal', async () => {
    const r = await runCli(['run', '--rm', 'busybox', '--', 'sh', '-c', 'tty; true'], stack.env, { timeoutMs: 600_000 });
    expect(r.stdout, r.stderr).toMatch(/not a tty/);
  });
});

describe('a running tty container', () => {
  let id = '';

  beforeAll(async () => {
    // Prints its terminal size on every SIGWINCH (a resize).
    const r = await runCli(['run', '-d', '-t', '-i', '--name', 'tty-target', 'busybox', '--', 'sh', '-c', 'trap "stty size" WINCH; while true; do sleep 1; done'], stack.env, { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    id = r.stdout.trim();
  });

  it('exec -it runs with a terminal of this terminal\'s size and its exit code', async () => {
    const r = await underTerminal(['exec', '-it', 'tty-target', '--', 'sh', '-c', 'tty; stty size; exit 5'], { rows: 20, cols: 70 });
    expect(r.stdout, r.stderr).toMatch(/\/dev\/pts\/\d+\r\n/);
    expect(r.stdout).toMatch(/20 70\r\n/);
    expect(r.code).toBe(5);
  });

  it('POST /resize changes the main process\'s terminal (it sees SIGWINCH)', async () => {
    const res = await stack.api(`/v1/containers/${id}/resize?h=50&w=132`, { method: 'POST' });
    expect(res.status, await res.clone().text()).toBe(204);
    const seen = await eventually(async () => (await runCli(['logs', id], stack.env)).stdout.includes('50 132'), 30);
    expect(seen).toBe(true);
    // Control: a size out of range names its field.
    const bad = await stack.api(`/v1/containers/${id}/resize?h=0&w=132`, { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'ERR_VALIDATION' } });
  });

  it('a client that disconnects mid-attach leaves no stream lease and no job behind', async () => {
    const ws = new WebSocket(`${stack.url.replace(/^http/, 'ws')}/v1/containers/${id}/attach`, { headers: { authorization: `Bearer ${stack.adminKey}` } });
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    ws.send(JSON.stringify({ type: 'start', stdin: true, logs: true }));
    // Positive control: the attach holds a lease and a job while it is open.
    expect(await eventually(async () => (await leases()) === 1, 30)).toBe(true);
    const queue = new Queue(hostStreamQueueName(stack.config.hostId), { connection: redis });
    try {
      expect(await eventually(async () => (await queue.getActiveCount()) === 1, 30)).toBe(true);
      ws.terminate();
      expect(await eventually(async () => (await leases()) === 0, 30)).toBe(true);
      expect(await eventually(async () => (await queue.getActiveCount()) === 0, 30)).toBe(true);
    } finally {
      await queue.close();
    }
    // The container is still there and its stdin still usable by the next client.
    const again = await runCli(['exec', 'tty-target', '--', 'true'], stack.env);
    expect(again.code, again.stderr).toBe(0);
  });
});
