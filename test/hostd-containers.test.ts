// Containers end to end through the API and hostd's jobs, on real guests: each
// container in its own VM. One long-running container serves exec
// (with stdin), log follow, a published port and a hostd restart (adoption);
// others cover an exit code with output, a command that does not exist, and an
// OOM kill under a 16 MiB limit. The long-running one boots cold (hostd's own
// path, and the VM a restarted hostd adopts); the others take the API's
// default (a fork).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { MetadataType, type Connection } from '../native/libvirt/index.js';
import { ImageStore } from '../images/containers/image-store.js';
import { HostJobs } from '../services/api/host-jobs.js';
import type { ContainerCreateInput, JobImage } from '../services/contracts/jobs.js';
import { createLogger } from '../services/contracts/logger.js';
import { connectRedis } from '../services/contracts/redis.js';
import { readFrames, RelayWriter, sessionKeys } from '../services/contracts/stream-relay.js';
import { startHostd, type RunningHostd } from '../services/hostd/main.js';
import { openLibvirt } from '../services/hostd/libvirt.js';
import { FORKD_XMLNS } from '../services/hostd/vm/domain-xml.js';
import { parseDomainMetadata } from '../services/hostd/vm/vm-record.js';
import { sealedEnvFor, settled, startStack, type Stack } from './harness.js';

let stack: Stack;
let hostd: RunningHostd | undefined;
let conn: Connection;
let work: string;
const log = createLogger('warn', { svc: 'test-ctr' });

interface View {
  id: string;
  state: string;
  exitCode: number | null;
  oomKilled: boolean;
  ports: { containerPort: number; hostAddress: string; hostPort: number }[];
  vm: { id: string; domainName: string; boot: string; timings?: Record<string, number> };
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** A create followed to its end (the API answers 202 with an operation; `settled` long-polls it). */
async function create(body: Record<string, unknown>): Promise<Response> {
  return settled(stack, await stack.api('/v1/containers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'busybox:latest', ...body }) }));
}

/** VM domains libvirt runs for this test's host id (by forkd's metadata); `all` adds warm-pool shells and templates. */
async function ourDomains(all = false): Promise<string[]> {
  const names: string[] = [];
  for (const d of await conn.listAllDomains(0)) {
    const md = parseDomainMetadata(await d.getMetadata(MetadataType.ELEMENT, FORKD_XMLNS).catch(() => null));
    if (md?.host === stack.config.hostId && (all || d.name.startsWith('forkd-vm-'))) names.push(d.name);
    await d.free();
  }
  return names.sort();
}

async function exec(id: string, command: string[], stdin?: string): Promise<{ stdout: string; stderr: string; exit: number | null; ms: number }> {
  const t0 = Date.now();
  const res = await stack.api(`/v1/containers/${id}/exec`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ command, ...(stdin === undefined ? {} : { stdin }) }) });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  let stdout = '';
  let stderr = '';
  let exit: number | null = null;
  for (const line of text.split('\n').filter(Boolean)) {
    const f = JSON.parse(line) as { stream?: string; data?: string; exit?: number; error?: unknown };
    if (f.error) throw new Error(`exec failed: ${line}`);
    if (f.stream === 'stdout') stdout += Buffer.from(f.data!, 'base64').toString();
    if (f.stream === 'stderr') stderr += Buffer.from(f.data!, 'base64').toString();
    if (f.exit !== undefined) exit = f.exit;
  }
  return { stdout, stderr, exit, ms: Date.now() - t0 };
}

function tcpRequest(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let out = '';
    s.on('data', (d) => { out += d.toString(); });
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.setTimeout(30_000, () => { s.destroy(); reject(new Error(`no answer from 127.0.0.1:${port}`)); });
    s.write(payload);
  });
}

beforeAll(async () => {
  stack = await startStack({ name: 'ctr', hostd: false });
  hostd = await startHostd(stack.config, stack.env.REDIS_URL!, log);
  conn = await openLibvirt('qemu:///system');
  work = mkdtempSync(join(tmpdir(), 'forkd-test-ctr-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const up = await stack.api('/v1/images', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: readFileSync(join(work, 'busybox.tar')) });
  expect(up.status).toBe(201);
});

afterAll(async () => {
  await hostd?.stop();
  if (conn) {
    for (const name of await ourDomains(true).catch(() => [] as string[])) {
      const d = await conn.lookupDomainByName(name);
      await d?.destroy().catch(() => undefined);
      await d?.free();
    }
    await conn.close();
  }
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a container that prints and exits', () => {
  it('shows its output in the logs and exits 3; removing it destroys the VM', async () => {
    const c = await json<View>(await create({ command: ['sh', '-c', 'seq 1 20000; echo hello from $(hostname); exit 3'] }), 202);
    console.log(`container.create (${c.vm.boot}) timings: ${JSON.stringify(c.vm.timings)}`);
    const waited = await json<View>(await stack.api(`/v1/containers/${c.id}/wait`, { method: 'POST' }));
    expect(waited).toMatchObject({ state: 'exited', exitCode: 3, oomKilled: false });
    const t0 = Date.now();
    const logs = await (await stack.api(`/v1/containers/${c.id}/logs`)).text();
    console.log(`logs of 20001 lines through API+hostd+relay: ${Date.now() - t0} ms`);
    const lines = logs.split('\n');
    expect(lines.slice(0, 3)).toEqual(['1', '2', '3']);
    expect(lines).toHaveLength(20002);
    expect(lines[20000]).toMatch(/^hello from vm-[0-9a-f]{1,12}$/);
    expect(await (await stack.api(`/v1/containers/${c.id}/logs?tail=1`)).text()).toMatch(/^hello from vm-[0-9a-f]{1,12}\n$/);
    expect(await ourDomains()).toContain(c.vm.domainName);
    await json(await stack.api(`/v1/containers/${c.id}`, { method: 'DELETE' }));
    // The removal answers once the destroy is journaled (docs/lifecycle.md); hostd finishes it just after.
    await expect.poll(() => ourDomains(), { timeout: 60_000, interval: 250 }).not.toContain(c.vm.domainName);
  });
});

describe('failures', () => {
  it('a command that does not exist is ERR_CONTAINER_START and leaves no VM', async () => {
    const before = await ourDomains();
    const res = await create({ command: ['/no/such/command'] });
    const body = await json<{ error: { code: string; message: string } }>(res, 422);
    expect(body.error.code).toBe('ERR_CONTAINER_START');
    expect(await ourDomains()).toEqual(before);
  });

  it('a container over its 16 MiB limit is OOM-killed and its VM still answers', async () => {
    const c = await json<View>(await create({ command: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], memoryMib: 16 }), 202);
    console.log(`container.create (${c.vm.boot}) timings: ${JSON.stringify(c.vm.timings)}`);
    const waited = await json<View>(await stack.api(`/v1/containers/${c.id}/wait`, { method: 'POST' }));
    expect(waited.state).toBe('exited');
    expect(waited.oomKilled).toBe(true);
    expect(waited.exitCode).not.toBe(0);
    // The agent still answers: inspect goes to the guest.
    const again = await json<View>(await stack.api(`/v1/containers/${c.id}`));
    expect(again).toMatchObject({ state: 'exited', oomKilled: true });
    await json(await stack.api(`/v1/containers/${c.id}`, { method: 'DELETE' }));
  });
});

describe('a long-running container', () => {
  let c: View;
  const serve = 'mkdir -p /www && echo hi-from-$(hostname) > /www/index.html && httpd -p 8080 -h /www && (nc -ll -p 9000 -e cat &) && i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done';

  beforeAll(async () => {
    // Cold: adoption after a restart is about VMs hostd booted itself.
    c = await json<View>(await create({ command: ['sh', '-c', serve], ports: [{ containerPort: 8080 }, { containerPort: 9000 }], boot: 'cold' }), 202);
    expect(c.vm.boot).toBe('cold');
  });

  it('runs exec with stdin and reports the exit code', async () => {
    const r = await exec(c.id, ['sh', '-c', 'cat; echo; echo on $(hostname) >&2; exit 7'], 'piped-in');
    expect(r.stdout).toBe('piped-in\n');
    expect(r.stderr).toMatch(/^on vm-/);
    expect(r.exit).toBe(7);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) times.push((await exec(c.id, ['true'])).ms);
    console.log(`exec round-trip through API+hostd+agent: ${times.join(', ')} ms`);
  });

  it('follows the logs as they grow until the client goes away', async () => {
    const ac = new AbortController();
    const res = await stack.api(`/v1/containers/${c.id}/logs?follow=true`, { signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
      const ticks = text.match(/tick \d+/g) ?? [];
      if (new Set(ticks).size >= 3 && /tick \d+\n$/.test(text)) break;
    }
    ac.abort();
    const ticks = (text.match(/tick (\d+)/g) ?? []).map((t) => Number(t.split(' ')[1]));
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
  });

  it('publishes its port on 127.0.0.1 and tunnels connections into the guest', async () => {
    expect(c.ports).toHaveLength(2);
    expect(c.ports[0]).toMatchObject({ containerPort: 8080, hostAddress: '127.0.0.1' });
    const res = await fetch(`http://127.0.0.1:${c.ports[0]!.hostPort}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^hi-from-vm-/);
    // Several at once, each its own tunnel.
    const many = await Promise.all([1, 2, 3, 4].map(() => tcpRequest(c.ports[0]!.hostPort, 'GET / HTTP/1.0\r\n\r\n')));
    for (const m of many) expect(m).toMatch(/200 OK[\s\S]*hi-from-vm-/);
  });

  it('carries a conversation both ways on one tunnel, and bulk data through the credit windows', async () => {
    const port = c.ports.find((p) => p.containerPort === 9000)!.hostPort;
    const s = connect({ host: '127.0.0.1', port });
    await new Promise<void>((r, j) => { s.once('connect', r); s.once('error', j); });
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); });
    const until = async (n: number): Promise<Buffer> => {
      const deadline = Date.now() + 30_000;
      while (buf.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const got = buf.subarray(0, n);
      buf = buf.subarray(n);
      return got;
    };
    const rtts: number[] = [];
    for (const word of ['one\n', 'two\n', 'three\n']) {
      const t0 = Date.now();
      s.write(word);
      expect((await until(word.length)).toString()).toBe(word);
      rtts.push(Date.now() - t0);
    }
    const bulk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < bulk.length; i++) bulk[i] = (i * 7 + 3) & 0xff;
    const t1 = Date.now();
    s.write(bulk);
    const back = await until(bulk.length);
    const bulkMs = Date.now() - t1;
    expect(back.equals(bulk)).toBe(true);
    s.destroy();
    console.log(`port tunnel: echo round-trips ${rtts.join(', ')} ms; 1 MiB echoed in ${bulkMs} ms`);
  });

  describe('through the job contract directly', () => {
    let redis: Awaited<ReturnType<typeof connectRedis>>;
    let jobs: HostJobs;
    let image: JobImage;
    const host = () => stack.config.hostId;

    beforeAll(async () => {
      redis = await connectRedis(stack.env.REDIS_URL!);
      jobs = new HostJobs(redis, 120_000);
      const stored = await new ImageStore(stack.dataDir).get('busybox:latest');
      image = { id: stored.id, config: stored.config, layers: stored.layers.map((l) => ({ diffId: l.diffId, size: l.size, path: l.path })) };
    });
    afterAll(async () => {
      await jobs?.close();
      await redis?.quit();
    });

    it('container.create retried with the same ids reports the running container instead of making another VM', async () => {
      const before = await ourDomains();
      const input: ContainerCreateInput = {
        tenantId: 't', vmId: c.vm.id, containerId: c.id, boot: 'cold', vm: { vcpus: 1, memoryMib: 256 }, image,
        spec: { command: ['sh', '-c', serve], env: await sealedEnvFor(stack, c.id, []), limits: {} }, ports: [{ containerPort: 8080 }],
      };
      const t0 = Date.now();
      const again = await jobs.call(host(), 'container.create', input);
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(again.status.state).toBe('running');
      expect(again.ports).toEqual(c.ports);
      expect(await ourDomains()).toEqual(before);
    });

    it('container.wait honours timeoutMs; inspect, signal, stats and vm.list answer', async () => {
      const t0 = Date.now();
      const w = await jobs.call(host(), 'container.wait', { vmId: c.vm.id, containerId: c.id, timeoutMs: 1500 });
      expect(w.state).toBe('running');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
      expect((await jobs.call(host(), 'container.signal', { vmId: c.vm.id, containerId: c.id, signal: 'SIGCONT' })).state).toBe('running');
      const st = await jobs.call(host(), 'container.stats', { vmId: c.vm.id, containerId: c.id });
      expect(st.memoryBytes).toBeGreaterThan(0);
      expect(st.pids).toBeGreaterThanOrEqual(2);
      const { vms } = await jobs.call(host(), 'vm.list', {});
      expect(vms).toContainEqual({ vmId: c.vm.id, domainName: c.vm.domainName, running: true, state: 'running' });
    });

    it('unknown VMs and containers are ERR_NOT_FOUND; destroying an unknown VM is a no-op', async () => {
      await expect(jobs.call(host(), 'container.inspect', { vmId: 'nope', containerId: c.id })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
      await expect(jobs.call(host(), 'container.inspect', { vmId: c.vm.id, containerId: 'nope' })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
      await expect(jobs.call(host(), 'container.stats', { vmId: c.vm.id, containerId: 'nope' })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
      expect(await jobs.call(host(), 'vm.destroy', { vmId: 'never-was' })).toEqual({ destroyed: false });
    });

    it('container.logs with follow stops when a cancel frame arrives', async () => {
      const session = `logs${Date.now()}`;
      const keys = sessionKeys(session);
      const job = jobs.call(host(), 'container.logs', { vmId: c.vm.id, containerId: c.id, session, follow: true, tail: 2 });
      const reader = redis.duplicate();
      const stop = new AbortController();
      let out = '';
      for await (const f of readFrames<string>(reader, keys.out, stop.signal, 200)) {
        if (f.kind === 'stdout') out += f.data.toString();
        if ((out.match(/tick/g) ?? []).length >= 3) break;
      }
      await new RelayWriter(redis, keys.in).write('cancel');
      const r = await job;
      expect(r.lines).toBeGreaterThanOrEqual(3);
      const frames: string[] = [];
      for await (const f of readFrames<string>(reader, keys.out, AbortSignal.timeout(2000), 200)) {
        frames.push(f.kind);
        if (f.kind === 'end') break;
      }
      reader.disconnect();
      expect(frames.at(-1)).toBe('end');
    });

    it('container.exec relays stdout, then exit and end; a missing command is ERR_CONTAINER_START with an error frame', async () => {
      const frames = async (session: string): Promise<{ kind: string; data: string }[]> => {
        const reader = redis.duplicate();
        const out: { kind: string; data: string }[] = [];
        for await (const f of readFrames<string>(reader, sessionKeys(session).out, AbortSignal.timeout(3000), 200)) {
          out.push({ kind: f.kind, data: f.data.toString() });
          if (f.kind === 'end' || f.kind === 'error') break;
        }
        reader.disconnect();
        return out;
      };
      const ok = `execok${Date.now()}`;
      expect(await jobs.call(host(), 'container.exec', { vmId: c.vm.id, containerId: c.id, session: ok, command: ['echo', 'framed'], stdin: false })).toEqual({ exitCode: 0 });
      expect(await frames(ok)).toEqual([{ kind: 'stdout', data: 'framed\n' }, { kind: 'exit', data: '0' }, { kind: 'end', data: '' }]);
      const bad = `execbad${Date.now()}`;
      await expect(jobs.call(host(), 'container.exec', { vmId: c.vm.id, containerId: c.id, session: bad, command: ['/no/such'], stdin: false }))
        .rejects.toMatchObject({ code: 'ERR_CONTAINER_START' });
      const last = (await frames(bad)).at(-1)!;
      expect(last.kind).toBe('error');
      expect(JSON.parse(last.data).error.code).toBe('ERR_CONTAINER_START');
    });

    it('exec round-trips: job level and agent level', async () => {
      const agent = hostd!.vms.get(c.vm.id).agent;
      const agentMs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const h = agent.exec({ id: c.id, command: ['true'] });
        h.stdout.resume();
        h.stderr.resume();
        expect((await h.result).exitCode).toBe(0);
        agentMs.push(Date.now() - t0);
      }
      const jobMs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const session = `exec${Date.now()}${i}`;
        const t0 = Date.now();
        expect(await jobs.call(host(), 'container.exec', { vmId: c.vm.id, containerId: c.id, session, command: ['true'], stdin: false })).toEqual({ exitCode: 0 });
        jobMs.push(Date.now() - t0);
      }
      console.log(`exec round-trip: agent ${agentMs.join(', ')} ms; job (BullMQ + relay) ${jobMs.join(', ')} ms`);
    });
  });

  it('survives a hostd restart: the VM is adopted, exec and the published port still work', async () => {
    await hostd!.stop();
    hostd = undefined;
    expect(await ourDomains()).toContain(c.vm.domainName);
    hostd = await startHostd(stack.config, stack.env.REDIS_URL!, log);
    expect((await hostd.vms.list()).map((v) => v.vmId)).toContain(c.vm.id);
    const r = await exec(c.id, ['sh', '-c', 'echo still $(hostname)']);
    expect(r.exit).toBe(0);
    expect(r.stdout).toMatch(/^still vm-/);
    const res = await fetch(`http://127.0.0.1:${c.ports[0]!.hostPort}/`);
    expect(await res.text()).toMatch(/^hi-from-vm-/);
  });

  it('stops with SIGTERM (then SIGKILL after the grace period) and is removed with its VM', async () => {
    // sh as the container's PID 1 ignores SIGTERM: stop must wait the grace period, then SIGKILL.
    const t0 = Date.now();
    const stopped = await json<View>(await stack.api(`/v1/containers/${c.id}/stop?timeoutSec=2`, { method: 'POST' }));
    expect(stopped.state).toBe('exited');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    await json(await stack.api(`/v1/containers/${c.id}`, { method: 'DELETE' }));
    await expect.poll(() => ourDomains(), { timeout: 60_000, interval: 250 }).not.toContain(c.vm.domainName);
    await expect(fetch(`http://127.0.0.1:${c.ports[0]!.hostPort}/`)).rejects.toThrow();
  });
});
