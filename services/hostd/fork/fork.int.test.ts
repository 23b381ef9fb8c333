// The fork against real libvirt and QEMU (TCG here), on a tiny busybox guest:
// no agent, so readiness and behaviour are read from the serial console. The
// guest prints a tick every 0.5 s with 8 bytes of /dev/urandom; clones must keep
// ticking after the fork and, thanks to their new VMGenID, print different
// random bytes. The agent-level checks (identity, isolation) are in
// fork-agent.int.test.ts.
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../native/libvirt/index.js';
import { ForkdError } from '../../contracts/errors.js';
import { MACHINE_TYPE } from '../vm/domain-xml.js';
import { createForkPool } from './fork-pool.js';
import { forkFromTemplate, openTemplate, type ForkedVm, type ForkTimings, type Template } from './fork.js';
import type { ForkConnection } from './ports.js';
import { buildTemplate, type TemplateBuildResult } from './template-builder.js';
import { TEMPLATE_FILES, type HostInfo } from './template-manifest.js';
import { destroyDomainsNamed, domainsNamed } from '../../../test/support.js';

const SUITE = 'forkd-test-fork-';
const READY = 'FORKD-GUEST-READY';
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo ${READY}
i=0
while true; do i=$((i+1)); echo "tick $i rnd=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \\n')"; sleep 0.5; done
`;

let conn: Connection;
let fc: ForkConnection;
let work: string;
let runDir: string;
let built: TemplateBuildResult;
let template: Template;
let qemuVersion: string;
let host: HostInfo;

function kernelPath(): string {
  const k = readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')).sort().pop();
  if (!k) throw new Error('no kernel in /boot');
  return join('/boot', k);
}

const ourDomains = (): Promise<string[]> => domainsNamed(conn, SUITE);
const cleanup = (): Promise<void> => destroyDomainsNamed(conn, SUITE);

/** Console lines printed after `from` (the console file of a clone starts at the fork). */
async function ticks(vm: ForkedVm, atLeast: number, timeoutMs = 30_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = (await readFile(vm.consoleLog, 'utf8').catch(() => '')).split(/\r?\n/).filter((l) => l.startsWith('tick '));
    if (lines.length >= atLeast) return lines;
    if (Date.now() > deadline) throw new Error(`${vm.identity.name}: ${lines.length} ticks after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function fork(extra: Partial<Parameters<typeof forkFromTemplate>[0]> = {}): Promise<ForkedVm> {
  return forkFromTemplate({ conn: fc, template, host, runDir, hostId: 'test', namePrefix: SUITE, ...extra });
}

async function poke(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, offset);
  b[0] = b[0]! ^ 0xff;
  await fh.write(b, 0, 1, offset);
  await fh.close();
}

const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

beforeAll(async () => {
  conn = await Connection.open('qemu:///system');
  fc = conn as unknown as ForkConnection;
  await cleanup();
  work = await mkdtemp(join(tmpdir(), 'forkd-fork-int-'));
  chmodSync(work, 0o755);
  runDir = join(work, 'run');
  await mkdir(runDir);
  // Tiny guest: the host kernel, a busybox initramfs, an empty qcow2 root disk.
  const root = join(work, 'initrd');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp']) await mkdir(join(root, d), { recursive: true });
  execFileSync('cp', ['/usr/bin/busybox', join(root, 'bin', 'busybox')]);
  await writeFile(join(root, 'init'), INIT, { mode: 0o755 });
  execFileSync('sh', ['-c', `cd ${root} && find . | cpio -o -H newc --quiet | gzip -1 > ${work}/initrd.gz`]);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(work, 'root.qcow2'), '64M']);
  const v = (await conn.getVersion()) as { string: string };
  qemuVersion = v.string;
  host = { accel: 'tcg', qemuVersion, machine: MACHINE_TYPE };

  built = await buildTemplate({
    conn: fc,
    image: { id: 'tiny', kernel: kernelPath(), initramfs: join(work, 'initrd.gz'), rootDisk: join(work, 'root.qcow2'), cmdline: 'console=ttyS0 quiet' },
    vcpus: 1,
    memoryMib: 128,
    accel: 'tcg',
    dir: join(work, 'tmpl'),
    id: 'tiny',
    name: `${SUITE}tmpl`,
    hostId: 'test',
    qemuVersion,
    network: 'tap',
    readyMarker: READY,
  });
  template = await openTemplate(built.dir, host, 'full');
  console.log('template build (tiny guest, 128 MiB, TCG):', built.timings, 'state file bytes:', built.manifest.files.state.size);
});

afterAll(async () => {
  await cleanup();
  await conn?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('template', () => {
  it('is recorded, frozen and left with no domain', async () => {
    const m = built.manifest;
    expect(m).toMatchObject({ accel: 'tcg', machine: MACHINE_TYPE, qemuVersion, memoryMib: 128, ramId: 'forkd-ram', network: 'tap' });
    expect(m.files.memory.size).toBe(128 * 1024 * 1024);
    expect(m.files.state.size).toBeLessThan(4 * 1024 * 1024); // device state only: RAM stays in the memory file
    expect((await stat(join(built.dir, TEMPLATE_FILES.disk))).mode & 0o777).toBe(0o444);
    expect(await ourDomains()).toEqual([]);
  });
});

describe('fork', () => {
  it('clones keep running from the template and draw different random bytes', async () => {
    const a = await fork();
    const b = await fork();
    try {
      expect(a.identity.name).not.toBe(b.identity.name);
      const [ta, tb] = await Promise.all([ticks(a, 3), ticks(b, 3)]);
      // Both continue the template's loop (no reboot: no READY line, ticks continue).
      expect(await readFile(a.consoleLog, 'utf8')).not.toContain(READY);
      const rnd = (l: string): string => l.split('rnd=')[1]!;
      expect(ta.map(rnd)).not.toEqual(tb.map(rnd));
      expect(rnd(ta[0]!)).not.toBe(rnd(tb[0]!));
      const xa = await a.domain.qemuMonitorCommand('{"execute":"query-status"}', 0);
      expect(JSON.parse(xa).return.status).toBe('running');
    } finally {
      await a.destroy();
      await b.destroy();
    }
    expect(await ourDomains()).toEqual([]);
    expect(await readdir(runDir)).toEqual([]);
  });

  it('measures fork timings (p50 of 5)', async () => {
    const all: ForkTimings[] = [];
    for (let i = 0; i < 5; i++) {
      const vm = await fork();
      all.push(vm.timings);
      await ticks(vm, 1);
      await vm.destroy();
    }
    const keys = Object.keys(all[0]!) as (keyof ForkTimings)[];
    const summary = Object.fromEntries(keys.map((k) => [k, p50(all.map((t) => t[k]))]));
    console.log('fork p50 of 5 (ms, tiny guest, TCG, no agent):', summary);
    expect(await ourDomains()).toEqual([]);
  });

  it('the warm pool hands out a pre-started shell', async () => {
    const pool = createForkPool({ conn: fc, template, runDir, hostId: 'test', namePrefix: SUITE, size: 1, reserveMib: 256 });
    try {
      const deadline = Date.now() + 60_000;
      while (pool.stats().ready < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(pool.stats().ready).toBe(1);
      const t0 = Date.now();
      const vm = await pool.take({});
      const takeMs = Date.now() - t0;
      console.log('pool take (ms, tiny guest, TCG, no agent):', takeMs, vm.timings);
      await ticks(vm, 1);
      await vm.destroy();
    } finally {
      await pool.drain();
    }
    expect(await ourDomains()).toEqual([]);
    expect(await readdir(runDir)).toEqual([]);
  });
});

describe('refusals and failures', () => {
  async function copyTemplate(name: string): Promise<string> {
    const dir = join(work, name);
    execFileSync('cp', ['-a', built.dir, dir]); // -a: the memory file stays QEMU's
    return dir;
  }

  async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ForkdError);
    expect((err as ForkdError).code).toBe(code);
  }

  it('rejects a corrupted state file before creating any domain', async () => {
    const dir = await copyTemplate('corrupt-state');
    await poke(join(dir, TEMPLATE_FILES.state), 1000);
    await expectCode(fork({ template: dir }), 'ERR_TEMPLATE_CORRUPT');
    expect(await ourDomains()).toEqual([]);
    expect(await readdir(runDir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects a missing memory file before creating any domain', async () => {
    const dir = await copyTemplate('no-memory');
    await rm(join(dir, TEMPLATE_FILES.memory));
    await expectCode(fork({ template: dir }), 'ERR_TEMPLATE_CORRUPT');
    expect(await ourDomains()).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('calls a template built under another accelerator stale', async () => {
    await expectCode(openTemplate(built.dir, { ...host, accel: 'kvm' }), 'ERR_TEMPLATE_STALE');
    await expectCode(fork({ host: { ...host, accel: 'kvm' } }), 'ERR_TEMPLATE_STALE');
    expect(await ourDomains()).toEqual([]);
  });

  it('leaves no domain, overlay or socket when a fork fails midway (device state refused)', async () => {
    const dir = await copyTemplate('bad-stream');
    await poke(join(dir, TEMPLATE_FILES.state), 64); // skip verification: QEMU itself must refuse it
    const bad = await openTemplate(dir, host, 'fast').catch(() => null);
    expect(bad).toBeNull();
    const manifest = JSON.parse(await readFile(join(dir, TEMPLATE_FILES.manifest), 'utf8'));
    const err = await fork({ template: { dir, manifest }, verify: 'none', incomingTimeoutMs: 30_000 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ForkdError);
    expect((err as ForkdError).code).toBe('ERR_LIBVIRT'); // QEMU refuses the stream and exits
    console.log('midway failure reported as:', (err as Error).message);
    expect(await ourDomains()).toEqual([]);
    expect(await readdir(runDir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('a template build that fails removes its domain and directory', async () => {
    const dir = join(work, 'never-ready');
    const err = await buildTemplate({
      conn: fc,
      image: { id: 'tiny', kernel: kernelPath(), initramfs: join(work, 'initrd.gz'), rootDisk: join(work, 'root.qcow2'), cmdline: 'console=ttyS0 quiet' },
      vcpus: 1,
      memoryMib: 128,
      accel: 'tcg',
      dir,
      id: 'never',
      name: `${SUITE}never`,
      hostId: 'test',
      qemuVersion,
      readyMarker: 'A-LINE-THIS-GUEST-NEVER-PRINTS',
      readyTimeoutMs: 2_000,
    }).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_GUEST_TIMEOUT' });
    expect(await ourDomains()).toEqual([]);
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it('leaves nothing behind when the agent never answers', async () => {
    const agent = () => ({
      waitReady: async () => {
        throw new ForkdError('ERR_GUEST_TIMEOUT', 'no agent in this guest');
      },
      call: async () => {
        throw new Error('unreachable');
      },
      close: () => undefined,
    });
    await expectCode(fork({ agent: agent as never }), 'ERR_GUEST_TIMEOUT');
    expect(await ourDomains()).toEqual([]);
    expect(await readdir(runDir)).toEqual([]);
  });
});
