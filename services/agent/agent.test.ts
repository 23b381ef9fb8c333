// The agent's dispatch and its host-testable handlers, in-process: the real
// session and handlers behind a unix socket, driven by the real AgentClient.
// crun cannot run on this host (cgroups v1/hybrid: "cgroups in hybrid mode not
// supported"), so starting containers is covered by agent.int.test.ts in a guest.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, PROTOCOL_VERSION } from '../contracts/agent-protocol/index.js';
import { ForkdError } from '../contracts/errors.js';
import { AgentClient } from '../hostd/agent/agent-client.js';
import { AGENT_VERSION, loadConfig, type AgentConfig } from './config.js';
import { createAgent, type Agent } from './handlers.js';
import { serveSocket } from './server.js';
import { tinyImage, type TestImage } from './testing/busybox-image.js';
import { connect, type Socket } from 'node:net';
import { rejection } from '../../test/support.js';

let dir: string;
let cfg: AgentConfig;
let agent: Agent;
let server: Server;
let client: AgentClient;
let image: TestImage;
const logs: string[] = [];
const rawSockets: Socket[] = [];

const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const d = mkdtempSync(join(tmpdir(), 'forkd-ovl-'));
  try {
    for (const x of ['l', 'u', 'w', 'm']) mkdirSync(join(d, x));
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=l,upperdir=${d}/u,workdir=${d}/w`, join(d, 'm')], { cwd: d, stdio: 'ignore' });
    execFileSync('umount', [join(d, 'm')]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
})();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forkd-agent-test-'));
  mkdirSync(join(dir, 'etc'));
  mkdirSync(join(dir, 'cgroup'));
  writeFileSync(join(dir, 'etc', 'resolv.conf'), 'nameserver 10.0.0.1\n');
  cfg = {
    ...loadConfig({}),
    root: join(dir, 'state'),
    etc: join(dir, 'etc'),
    cgroupRoot: join(dir, 'cgroup'),
    sysNet: join(dir, 'net'),
    system: false,
    crun: '/nonexistent/crun',
  };
  agent = await createAgent(cfg, (m, f) => logs.push(`${m} ${JSON.stringify(f)}`));
  server = await serveSocket(join(dir, 'agent.sock'), { agentVersion: AGENT_VERSION, handlers: agent.handlers, log: (m) => logs.push(m) });
  client = await AgentClient.connect(join(dir, 'agent.sock'), { timeoutMs: 5000 });
  image = await tinyImage();
});

afterAll(async () => {
  client?.close();
  for (const s of rawSockets) s.destroy();
  await new Promise<void>((r) => server?.close(() => r()));
  if (dir) {
    execFileSync('sh', ['-c', `grep -o '${dir}[^ ]*rootfs' /proc/self/mounts | xargs -r -n1 umount`], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
});


async function* chunks(b: Buffer, size = 1000) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe('agent (in-process, host)', () => {
  it('answers ping and info', async () => {
    expect((await client.call('ping', {})).now).toBeGreaterThan(0);
    const info = await client.call('info', {});
    expect(info.protocol).toBe(PROTOCOL_VERSION);
    expect(info.agentVersion).toBe(AGENT_VERSION);
    expect(info.memory.totalBytes).toBeGreaterThan(0);
    expect(info.runtime).toBe('');
  });

  it('writes identity files', async () => {
    const r = await client.call('identity.set', {
      hostname: 'clone-7',
      machineId: 'ab'.repeat(16),
      network: { interface: 'eth0', address: '10.1.2.3/24', gateway: '10.1.2.1', dns: ['10.1.2.1', '9.9.9.9'] },
      entropy: Buffer.alloc(64, 7).toString('base64'),
      clockEpochMs: Date.now(),
    });
    expect(r.applied.sort()).toEqual(['clock', 'entropy', 'hostname', 'machineId', 'network']);
    expect(r.warnings.join()).toMatch(/not credited/);
    expect(readFileSync(join(dir, 'etc/hostname'), 'utf8')).toBe('clone-7\n');
    expect(readFileSync(join(dir, 'etc/hosts'), 'utf8')).toContain('127.0.1.1\tclone-7');
    expect(readFileSync(join(dir, 'etc/machine-id'), 'utf8')).toBe(`${'ab'.repeat(16)}\n`);
    expect(readFileSync(join(dir, 'etc/resolv.conf'), 'utf8')).toContain('nameserver 9.9.9.9');
    const bad = await rejection(client.call('identity.set', { network: { interface: 'eth0', address: '300.1.1.1/24' } }));
    expect(bad.detail?.['wireCode']).toBe('ERR_INVALID_PARAMS');
  });

  it('takes the peers\' names in identity.set (a fork joining a network): one hosts file with the hostname and the peers', async () => {
    const hosts = [{ address: '10.1.2.3', names: ['clone-8', 'web'] }, { address: '10.1.2.4', names: ['db'] }];
    const r = await client.call('identity.set', { hostname: 'clone-8', hosts });
    expect(r.applied).toEqual(['hosts', 'hostname']);
    const file = readFileSync(join(dir, 'etc/hosts'), 'utf8');
    expect(file).toContain('127.0.1.1\tclone-8\n');
    expect(file).toContain('10.1.2.3\tclone-8 web\n10.1.2.4\tdb\n');
    // Without a hostname the names go under the current one, as network.hosts writes them.
    await client.call('identity.set', { hosts: [{ address: '10.1.2.9', names: ['cache'] }] });
    const again = readFileSync(join(dir, 'etc/hosts'), 'utf8');
    expect(again).toContain('127.0.1.1\tclone-8\n');
    expect(again).toContain('10.1.2.9\tcache\n');
    expect(again).not.toContain('db');
    const bad = await rejection(client.call('identity.set', { hosts: [{ address: 'x', names: [] }] }));
    expect(bad.code).toBe('ERR_VALIDATION');
  });

  it('finds the NIC for a MAC, and says so when there is none', async () => {
    const mac = '0a:f0:4d:01:02:03';
    const none = await client.call('identity.set', { mac });
    expect(none.applied).toEqual([]);
    expect(none.warnings.join()).toMatch(/no network interface; 0a:f0:4d:01:02:03 not set/);
    mkdirSync(join(dir, 'net', 'eth0'), { recursive: true });
    writeFileSync(join(dir, 'net', 'eth0', 'address'), '0a:f0:4d:aa:bb:cc\n');
    const one = await client.call('identity.set', { mac });
    expect(one.applied).toEqual(['mac']);
    expect(one.warnings.join()).toMatch(/eth0 left as it is/);
    const named = await client.call('identity.set', { mac, network: { interface: 'eth1', address: '10.1.2.3/24' } });
    expect(named.warnings.join()).toMatch(/no network interface eth1/);
    const bad = await rejection(client.call('identity.set', { mac: '0A:F0:4D:01:02:03' }));
    expect(bad.code).toBe('ERR_VALIDATION');
  });

  it('imports an image: reports missing layers, verifies and extracts them, skips them the second time', async () => {
    const layer = image.layers[0]!;
    const spec = { id: image.id, config: image.config, layers: [{ diffId: layer.diffId, size: layer.size }] };
    const first = await client.call('image.import', spec);
    expect(first).toEqual({ id: image.id, complete: false, missing: [layer.diffId] });
    const put = await client.putLayer({ diffId: layer.diffId, size: layer.size, source: chunks(layer.tar) });
    expect(put.skipped).toBe(false);
    expect(put.files).toBeGreaterThan(5);
    const fs = join(cfg.root, 'layers/sha256', layer.diffId.slice(7), 'fs');
    expect(readFileSync(join(fs, 'bin/hello'), 'utf8')).toContain('echo hello');
    const again = await client.putLayer({ diffId: layer.diffId, size: layer.size, source: chunks(layer.tar) });
    expect(again.skipped).toBe(true);
    expect((await client.call('image.import', spec)).complete).toBe(true);
    expect((await client.call('image.list', {})).images).toEqual([{ id: image.id, layers: [layer.diffId], config: image.config }]);
    // The client helper does the same dance and sends nothing now.
    const helper = await client.importImage({ id: image.id, config: image.config, layers: [{ ...spec.layers[0]!, path: '/nonexistent' }] });
    expect(helper.sent).toEqual([]);
  });

  it('refuses a layer whose bytes do not match its diffId or size, and keeps nothing', async () => {
    const layer = image.layers[0]!;
    const wrong = `sha256:${'1'.repeat(64)}`;
    const e1 = await rejection(client.putLayer({ diffId: wrong, size: layer.size, source: chunks(layer.tar) }));
    expect(e1.code).toBe('ERR_IMAGE_INVALID');
    expect(e1.message).toMatch(/digest mismatch/);
    const e2 = await rejection(client.putLayer({ diffId: wrong, size: layer.size - 512, source: chunks(layer.tar) }));
    expect(e2.code).toBe('ERR_IMAGE_INVALID');
    const e3 = await rejection(client.putLayer({ diffId: wrong, size: 100, source: chunks(Buffer.alloc(100, 0x41)) }));
    expect(e3.code).toBe('ERR_IMAGE_INVALID');
    expect(existsSync(join(cfg.root, 'layers/sha256', '1'.repeat(64)))).toBe(false);
    expect(execFileSync('ls', [join(cfg.root, 'tmp')], { encoding: 'utf8' })).toBe('');
  });

  it.skipIf(!canMount)('creates a container: overlay rootfs, config.json, user and limits; deletes it', async () => {
    const r = await client.call('container.create', { id: 'c1', name: 'web-1', image: image.id, args: ['x'], env: ['A=1'], limits: { memoryMib: 16, cpus: 0.5, pids: 64 } });
    const spec = JSON.parse(readFileSync(join(r.bundle, 'config.json'), 'utf8'));
    expect(spec.process.args).toEqual(['/bin/hello', 'x']);
    expect(spec.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [2000] });
    expect(spec.process.env).toContain('A=1');
    expect(spec.hostname).toBe('web-1');
    expect(spec.linux.namespaces.map((n: { type: string }) => n.type)).not.toContain('network');
    expect(spec.linux.resources.unified).toEqual({ 'memory.max': String(16 * 1024 * 1024), 'cpu.max': '50000 100000', 'pids.max': '64' });
    expect(readFileSync(join(r.bundle, 'rootfs/bin/hello'), 'utf8')).toContain('echo hello');
    const list = await client.call('container.list', {});
    expect(list.containers.map((c) => [c.id, c.status])).toEqual([['c1', 'created']]);
    expect((await rejection(client.call('container.create', { id: 'c1', image: image.id }))).detail?.['wireCode']).toBe('ERR_CONFLICT');
    // crun is missing here: start fails cleanly with ERR_CONTAINER_START.
    const start = await rejection(client.call('container.start', { id: 'c1' }));
    expect(start.code).toBe('ERR_CONTAINER_START');
    const w = await rejection(client.call('container.wait', { id: 'c1' }));
    expect(w.detail?.['wireCode']).toBe('ERR_CONFLICT');
    expect(await client.call('container.delete', { id: 'c1' })).toEqual({ deleted: true });
    expect(existsSync(r.bundle)).toBe(false);
    expect(await client.call('container.delete', { id: 'c1' })).toEqual({ deleted: false });
  });

  it.skipIf(!canMount)('creates and starts in one call; a start that fails leaves the container created, as a separate start would', async () => {
    // crun is missing here, so the start part fails.
    const e = await rejection(client.call('container.create', { id: 'c3', image: image.id, start: true }));
    expect(e.code).toBe('ERR_CONTAINER_START');
    expect((await client.call('container.list', {})).containers.map((c) => [c.id, c.status])).toEqual([['c3', 'created']]);
    expect(await client.call('container.delete', { id: 'c3' })).toEqual({ deleted: true });
  });

  it('reports unknown containers and images as ERR_NOT_FOUND wire codes', async () => {
    const e = await rejection(client.call('container.stats', { id: 'nope' }));
    expect(e.code).toBe('ERR_GUEST');
    expect(e.detail?.['wireCode']).toBe('ERR_NOT_FOUND');
    const e2 = await rejection(client.call('container.create', { id: 'c2', image: `sha256:${'2'.repeat(64)}` }));
    expect(e2.detail?.['wireCode']).toBe('ERR_NOT_FOUND');
  });

  it('removes an image and its unreferenced layers', async () => {
    expect(await client.call('image.remove', { id: image.id })).toEqual({ removed: true });
    expect((await client.call('image.list', {})).images).toEqual([]);
    expect(existsSync(join(cfg.root, 'layers/sha256', image.layers[0]!.diffId.slice(7)))).toBe(false);
  });
});

describe('agent session rules (raw frames)', () => {
  function rawSession(): Promise<{ send: (h: object) => void; sendRaw: (b: Buffer) => void; next: () => Promise<Record<string, unknown>>; closed: Promise<void> }> {
    return new Promise((resolve) => {
      const sock = connect(join(dir, 'agent.sock'));
      rawSockets.push(sock);
      const frames: Array<Record<string, unknown>> = [];
      const waiters: Array<() => void> = [];
      let buf = Buffer.alloc(0);
      sock.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 8 && buf.length >= 4 + buf.readUInt32BE(0)) {
          const len = buf.readUInt32BE(0);
          const hl = buf.readUInt32BE(4);
          frames.push(JSON.parse(buf.subarray(8, 8 + hl).toString()));
          buf = buf.subarray(4 + len);
          waiters.shift()?.();
        }
      });
      const closed = new Promise<void>((r) => sock.on('close', () => r()));
      sock.on('connect', () =>
        resolve({
          send: (h) => sock.write(encodeFrame(h)),
          sendRaw: (b) => sock.write(b),
          next: async () => {
            while (frames.length === 0) await new Promise<void>((r) => waiters.push(r));
            return frames.shift()!;
          },
          closed,
        }),
      );
    });
  }

  it('requires hello first, refuses other versions, unknown methods and bad params', async () => {
    const s = await rawSession();
    s.send({ t: 'req', id: 1, method: 'ping', params: {} });
    expect(await s.next()).toMatchObject({ t: 'err', id: 1, error: { code: 'ERR_NO_HELLO' } });
    s.send({ t: 'req', id: 2, method: 'hello', params: { protocol: 999, nonce: 'n' } });
    expect(await s.next()).toMatchObject({ t: 'err', id: 2, error: { code: 'ERR_VERSION', detail: { agentProtocol: PROTOCOL_VERSION } } });
    s.send({ t: 'req', id: 3, method: 'hello', params: { protocol: PROTOCOL_VERSION, nonce: 'n' } });
    expect(await s.next()).toMatchObject({ t: 'res', id: 3, result: { nonce: 'n' } });
    s.send({ t: 'req', id: 4, method: 'container.explode', params: {} });
    expect(await s.next()).toMatchObject({ t: 'err', id: 4, error: { code: 'ERR_UNKNOWN_METHOD' } });
    s.send({ t: 'req', id: 5, method: 'container.kill', params: { id: 'a b' } });
    expect(await s.next()).toMatchObject({ t: 'err', id: 5, error: { code: 'ERR_INVALID_PARAMS' } });
  });

  it('answers garbage with a connection-level error and closes', async () => {
    const s = await rawSession();
    s.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2]));
    expect(await s.next()).toMatchObject({ t: 'err', id: 0, error: { code: 'ERR_PROTOCOL' } });
    await s.closed;
    // The agent itself is fine.
    expect((await client.call('ping', {})).now).toBeGreaterThan(0);
  });
});
