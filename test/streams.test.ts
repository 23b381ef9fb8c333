// One tenant holding streams cannot starve a host: tenant A opens log
// followers up to its stream limit (3 here), a fourth is refused with 429, and
// meanwhile tenant B's `forkd run` completes. hostd has only 3 job slots in
// this stack, so if streams still took job slots (as they did before they got
// a queue of their own) B's create would wait behind A's followers until the
// API gave up: bounded by the CLI's timeout, which fails the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { runCli, startStack, type Stack } from './harness.js';

const LIMIT = 3;
let stack: Stack;
let work: string;
let other: NodeJS.ProcessEnv;
let otherKey = '';

beforeAll(async () => {
  stack = await startStack({
    name: 'streams',
    // No warm pool: each run is a fresh fork of the (cached) busybox template, cheaper than the two cold
    // boots this test used to make, and no refill competes with the run for the two cores.
    env: { FORKD_STREAMS_PER_TENANT: String(LIMIT), FORKD_HOSTD_JOB_CONCURRENCY: String(LIMIT), FORKD_JOB_TIMEOUT_MS: '90000', FORKD_POOL_SIZE: '0' },
  });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-streams-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const t = await runCli(['tenant', 'create', 'other'], stack.env);
  expect(t.code, t.stderr).toBe(0);
  const k = await runCli(['key', 'create', '--tenant', 'other', '--name', 'b'], stack.env);
  expect(k.code, k.stderr).toBe(0);
  otherKey = k.stdout.trim();
  other = { ...stack.env, FORKD_API_KEY: otherKey };
  for (const env of [stack.env, other]) {
    const r = await runCli(['image', 'import', join(work, 'busybox.tar')], env);
    expect(r.code, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  for (const env of [stack?.env, other]) {
    if (!env) continue;
    const ps = await runCli(['ps', '-a', '--json'], env).catch(() => null);
    for (const c of ps?.code === 0 ? (JSON.parse(ps.stdout) as { id: string }[]) : []) await runCli(['rm', '-f', c.id], env);
  }
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Follower {
  status: number;
  body: string;
  close(): void;
}

/** Opens `logs -f` over HTTP; for a 200, waits for its first bytes (the stream is live on hostd). */
async function follow(id: string): Promise<Follower> {
  const abort = new AbortController();
  const res = await stack.api(`/v1/containers/${id}/logs?follow=true`, { signal: abort.signal });
  if (res.status !== 200) return { status: res.status, body: await res.text(), close: () => abort.abort() };
  const reader = res.body!.getReader();
  const first = await reader.read();
  return { status: 200, body: new TextDecoder().decode(first.value), close: () => abort.abort() };
}

describe('streams beside jobs', () => {
  it('caps one tenant\'s followers at its limit while another tenant\'s run completes, and frees the slots on close', async () => {
    const a = await runCli(['run', '-d', 'busybox', '--', 'sh', '-c', 'while true; do echo tick; sleep 1; done'], stack.env, { timeoutMs: 300_000 });
    expect(a.code, a.stderr).toBe(0);
    const id = a.stdout.trim();

    const followers: Follower[] = [];
    try {
      for (let i = 0; i < LIMIT; i++) followers.push(await follow(id));
      expect(followers.map((f) => f.status)).toEqual([200, 200, 200]);
      expect(followers.every((f) => f.body.includes('tick'))).toBe(true);

      // Tenant B, while A holds as many streams as hostd has job slots: its run (create, follow, wait, remove) completes.
      const b = await runCli(['run', '--rm', 'busybox', '--', 'echo', 'b ran'], other, { timeoutMs: 240_000 });
      expect(b.code, b.stderr).toBe(0);
      expect(b.stdout).toBe('b ran\n');

      const refused = await follow(id);
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'ERR_TOO_MANY_STREAMS', detail: { scope: 'tenant', limit: LIMIT } } });
      expect(JSON.parse(refused.body).error.message).toMatch(/FORKD_STREAMS_PER_TENANT/);
    } finally {
      for (const f of followers) f.close();
    }

    // Closed followers give their slots back (as soon as the API sees the sockets close): bounded retries, not a timing.
    let again: Follower | undefined;
    for (let attempt = 0; attempt < 40; attempt++) {
      again = await follow(id);
      if (again.status === 200) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(again?.status).toBe(200);
    expect(again?.body).toContain('tick');
    again?.close();
  });
});
