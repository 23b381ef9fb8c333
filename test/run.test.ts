// The user's path from the README, end to end: import an image with the CLI,
// `forkd run` it in its own VM, exec and follow logs on a long-running one,
// and reach a real server in a guest through a published port.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { buildRedisImage } from '../images/containers/builders/redis.js';
import { runCli, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;

beforeAll(async () => {
  stack = await startStack({ name: 'run' });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-run-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  await buildRedisImage(join(work, 'redis.tar'), {});
  for (const f of ['busybox.tar', 'redis.tar']) {
    const r = await runCli(['image', 'import', join(work, f)], stack.env);
    expect(r.code, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  const ps = await runCli(['ps', '-a', '--json'], stack.env).catch(() => null);
  for (const c of ps?.code === 0 ? (JSON.parse(ps.stdout) as { id: string }[]) : []) await runCli(['rm', '-f', c.id], stack.env);
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('forkd run', () => {
  it('prints the greeting from inside its own VM and exits with the container\'s code', async () => {
    const r = await runCli(['run', '--rm', '--boot', 'cold', 'busybox', '--', 'sh', '-c', 'echo hello from $(hostname); exit 3'], stack.env, { timeoutMs: 600_000 });
    expect(r.stdout, r.stderr).toMatch(/^hello from \S+/m);
    expect(r.code).toBe(3);
    // The create's progress, followed from its operation, went to stderr (stdout is the container's alone).
    expect(r.stderr).toMatch(/^forkd: starting busybox: .+ \(\d+%\)$/m);
    expect(r.stdout).not.toMatch(/forkd:/);
    const ps = await runCli(['ps', '-a', '--json'], stack.env);
    expect(JSON.parse(ps.stdout)).toEqual([]); // --rm removed it and its VM
  });

  it('reports a command that does not exist as a start failure, leaving nothing behind', async () => {
    const r = await runCli(['run', 'busybox', '--', '/no/such/program'], stack.env, { timeoutMs: 600_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_CONTAINER_START/);
    const ps = await runCli(['ps', '-a', '--json'], stack.env);
    expect(JSON.parse(ps.stdout)).toEqual([]);
  });

  it('refuses an unknown image with a clear message', async () => {
    const r = await runCli(['run', 'nosuchimage', '--', 'true'], stack.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no image "nosuchimage"/);
  });
});

describe('a log stream opened while its container is still being created (as `forkd run` opens it)', () => {
  /** POSTs a container and opens its followed log right away, noting the create's state at that moment. */
  async function createAndFollow(command: string[]): Promise<{ stateWhenOpened: string; lines: Array<{ stream?: string; data?: string; error?: { code: string } }>; operationId: string }> {
    const post = await stack.api('/v1/containers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'busybox', command }) });
    expect(post.status).toBe(202);
    const { operation } = (await post.json()) as { operation: { id: string; targetId: string } };
    const op = (await (await stack.api(`/v1/operations/${operation.id}`)).json()) as { operation: { state: string } };
    const logs = await stack.api(`/v1/containers/${operation.targetId}/logs?follow=true&format=ndjson`, { signal: AbortSignal.timeout(300_000) });
    const text = await logs.text();
    return { stateWhenOpened: op.operation.state, lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as never), operationId: operation.id };
  }

  it('shows the container\'s output from its first line and ends when the container exits', async () => {
    const r = await createAndFollow(['sh', '-c', 'echo early bird; echo second line']);
    expect(['queued', 'running']).toContain(r.stateWhenOpened);
    const out = r.lines.filter((l) => l.stream === 'stdout').map((l) => Buffer.from(l.data!, 'base64').toString()).join('');
    expect(out).toBe('early bird\nsecond line\n');
    expect(r.lines.some((l) => l.error)).toBe(false);
  });

  it('ends with an error, not an endless wait, when the create fails', async () => {
    const r = await createAndFollow(['/no/such/program']);
    expect(['queued', 'running']).toContain(r.stateWhenOpened);
    expect(r.lines.at(-1)?.error?.code).toMatch(/^ERR_/);
    // The stream ends as hostd's create does; the API records the failure just after.
    let op = { state: 'running' } as { state: string; error?: { code: string } };
    for (let i = 0; i < 10 && (op.state === 'queued' || op.state === 'running'); i++) {
      op = ((await (await stack.api(`/v1/operations/${r.operationId}?waitSec=30`)).json()) as { operation: typeof op }).operation;
    }
    expect(op).toMatchObject({ state: 'failed', error: { code: 'ERR_CONTAINER_START' } });
  });
});

describe('a long-running container', () => {
  let id = '';

  beforeAll(async () => {
    const r = await runCli(['run', '-d', '--name', 'ticker', 'busybox', '--', 'sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'], stack.env, { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    id = r.stdout.trim();
  });

  it('runs exec with its exit code, and -i with stdin', async () => {
    const a = await runCli(['exec', id, '--', 'sh', '-c', 'echo in $(hostname); exit 7'], stack.env);
    expect(a.stdout).toMatch(/^in /);
    expect(a.code).toBe(7);
    const b = await runCli(['exec', '-i', 'ticker', '--', 'tr', 'a-z', 'A-Z'], stack.env, { input: 'shout\n' });
    expect(b.stdout).toBe('SHOUT\n');
    expect(b.code).toBe(0);
  });

  it('shows logs, and follows them until the container stops', async () => {
    const logs = await runCli(['logs', id], stack.env);
    expect(logs.stdout).toMatch(/tick 0\n/);
    const follow = runCli(['logs', '-f', id], stack.env, { timeoutMs: 120_000 });
    await new Promise((r) => setTimeout(r, 3000));
    const stop = await runCli(['stop', '-t', '1', id], stack.env);
    expect(stop.code, stop.stderr).toBe(0);
    const f = await follow;
    expect(f.code).toBe(0);
    expect(f.stdout.split('\n').filter((l) => l.startsWith('tick')).length).toBeGreaterThan(2);
  });

  it('is listed, inspected and removed', async () => {
    const ps = await runCli(['ps', '-a'], stack.env);
    expect(ps.stdout).toContain('ticker');
    const rm = await runCli(['rm', id], stack.env);
    expect(rm.code, rm.stderr).toBe(0);
    const gone = await runCli(['inspect', id], stack.env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/ERR_NOT_FOUND/);
  });
});

describe('a real server in a guest', () => {
  it('answers a request from the host on its published loopback port', async () => {
    const r = await runCli(['run', '-d', '--boot', 'cold', '-p', '6379', 'redis:local'], stack.env, { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse((await runCli(['inspect', r.stdout.trim()], stack.env)).stdout) as { ports: { hostAddress: string; hostPort: number }[] };
    const port = c.ports[0]!;
    expect(port.hostAddress).toBe('127.0.0.1');
    const reply = await redisPing(port.hostPort);
    expect(reply).toBe('+PONG');
    await runCli(['rm', '-f', r.stdout.trim()], stack.env);
  });
});

/** PING over RESP, retried while redis-server starts inside the guest. */
async function redisPing(port: number): Promise<string> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const reply = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      let data = '';
      s.setTimeout(3000, () => { s.destroy(); resolve(''); });
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (d) => { data += d.toString(); if (data.includes('\r\n')) { s.end(); resolve(data.trim()); } });
      s.on('error', () => resolve(''));
      s.on('close', () => resolve(data.trim()));
    });
    if (reply) return reply;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return '';
}
