// What every mode of the fork benchmark shares: the libvirt connection, the
// accelerator verdict (hostd's own detectAccel, cached in var/host), host facts,
// the guest image (images/guest, cached), a busybox image imported through the
// host image store, a VmManager for cold boots, the app template (guest
// image + busybox image, snapshotted) the fork modes clone, and (with a NIC)
// the tenant network every measured VM joins (network.ts).

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Connection } from '../../native/libvirt/index.js';
import { buildBusyboxImage } from '../../images/containers/builders/busybox.js';
import { importImageArchive } from '../../images/containers/image-import.js';
import { ImageStore, type StoredImage } from '../../images/containers/image-store.js';
import { buildGuestImage, type GuestImage } from '../../images/guest/build.js';
import { DEFAULT_AGENT_BUNDLE } from '../../images/guest/main.js';
import { PACKAGE_ROOT, type ForkdConfig } from '../../services/contracts/config.js';
import type { Logger } from '../../services/contracts/logger.js';
import { detectAccel, type AccelVerdict } from '../../services/hostd/accel.js';
import { AgentClient, type HostImage } from '../../services/hostd/agent/agent-client.js';
import { openTemplate, type Template } from '../../services/hostd/fork/fork.js';
import type { ForkConnection } from '../../services/hostd/fork/ports.js';
import { buildTemplate, type TemplateBuildResult } from '../../services/hostd/fork/template-builder.js';
import type { HostInfo } from '../../services/hostd/fork/template-manifest.js';
import { libvirtCall } from '../../services/hostd/libvirt.js';
import { MACHINE_TYPE, networkSpecFor, type NetworkSpec } from '../../services/hostd/vm/domain-xml.js';
import { VmManager } from '../../services/hostd/vm/vm-manager.js';
import type { BenchOptions } from './args.js';
import type { BenchCleanup } from './cleanup.js';
import { namesFor } from './cleanup.js';
import type { BenchNetwork } from './network.js';

const run = promisify(execFile);

export interface HostFacts {
  cpus: number;
  cpuModel: string;
  memTotalMib: number;
  kernel: string;
  node: string;
  libvirt: string;
  qemu: string;
  loadavgStart: number[];
}

export interface BenchContext {
  opts: BenchOptions;
  config: ForkdConfig;
  conn: Connection;
  /** The same connection as the fork modules type it. */
  fc: ForkConnection;
  log: Logger;
  say: (line: string) => void;
  cleanup: BenchCleanup;
  names: ReturnType<typeof namesFor>;
  hostId: string;
  workDir: string;
  accel: AccelVerdict;
  host: HostFacts;
  guest: GuestImage;
  busybox: HostImage;
  vms: VmManager;
  /** The same NIC in every mode, as hostd gives its VMs (null: none). */
  network: NetworkSpec | null;
  /** The tenant network each measured VM joins before its container (null: no NIC, no network step). */
  net: BenchNetwork | null;
  agentTimeoutMs: number;
}

/** Handshake attempts waitReady needed, per agent socket (from AgentClient's 'agent ready' log line). */
export const agentAttempts = new Map<string, number>();

export const agentOf = (socketPath: string): AgentClient =>
  new AgentClient(socketPath, {
    log: (msg, fields) => {
      if (msg === 'agent ready' && typeof fields?.['attempts'] === 'number') agentAttempts.set(socketPath, fields['attempts']);
    },
  });

export async function hostFacts(conn: Connection): Promise<HostFacts> {
  const [lib, hyp] = await libvirtCall('reading versions', () => Promise.all([conn.getLibVersion(), conn.getVersion()]));
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memTotalMib: Math.round(totalmem() / 2 ** 20),
    kernel: release(),
    node: process.version,
    libvirt: lib.string,
    qemu: hyp.string,
    loadavgStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export async function gitFacts(): Promise<{ commit: string | null; dirty: boolean | null }> {
  try {
    const { stdout } = await run('git', ['rev-parse', 'HEAD'], { cwd: PACKAGE_ROOT });
    const st = await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: PACKAGE_ROOT });
    return { commit: stdout.trim(), dirty: st.stdout.trim() !== '' };
  } catch {
    return { commit: null, dirty: null };
  }
}

export async function detectBenchAccel(conn: Connection, config: ForkdConfig, log: Logger, qemuVersion: string): Promise<AccelVerdict> {
  return detectAccel({ conn, config, log, qemuVersion });
}

export async function guestImage(dataDir: string, say: (l: string) => void): Promise<GuestImage> {
  if (!existsSync(DEFAULT_AGENT_BUNDLE)) {
    throw new Error(`the agent bundle ${DEFAULT_AGENT_BUNDLE} is missing: run \`npm run build\` first`);
  }
  const t0 = Date.now();
  const image = await buildGuestImage({ dataDir, agentBundle: DEFAULT_AGENT_BUNDLE });
  say(`guest image ${image.id.slice(0, 12)} ready in ${Date.now() - t0} ms`);
  return image;
}

/** busybox:latest built from the host's busybox, imported into a store inside the work dir. */
export async function busyboxImage(workDir: string): Promise<HostImage> {
  const archive = join(workDir, 'busybox.tar');
  await buildBusyboxImage(archive);
  const stored: StoredImage = await importImageArchive(archive, new ImageStore(workDir));
  const c = stored.config;
  return {
    id: stored.id,
    config: {
      ...(c.Env ? { Env: c.Env } : {}),
      ...(c.Cmd ? { Cmd: c.Cmd } : {}),
      ...(c.Entrypoint ? { Entrypoint: c.Entrypoint } : {}),
      ...(c.WorkingDir ? { WorkingDir: c.WorkingDir } : {}),
      ...(c.User ? { User: c.User } : {}),
    },
    layers: stored.layers.map((l) => ({ diffId: l.diffId, size: l.size, path: l.path })),
  };
}

/** hostd's NIC for every VM, template and clone (FORKD_NETWORK: `tenant`, the default, gives each a tap; `none`: null, no NIC). */
export function benchNetwork(config: ForkdConfig): NetworkSpec | null {
  return networkSpecFor(config.network);
}

export async function coldVmManager(
  ctx: Pick<BenchContext, 'conn' | 'hostId' | 'workDir' | 'accel' | 'log' | 'agentTimeoutMs' | 'network'>,
  guest: GuestImage,
): Promise<VmManager> {
  const vms = new VmManager({
    network: ctx.network,
    conn: ctx.conn,
    hostId: ctx.hostId,
    vmsDir: join(ctx.workDir, 'vms'),
    accel: ctx.accel.accel,
    log: ctx.log.child({ part: 'bench-vms' }),
    guest: { kernel: guest.kernel, initramfs: guest.initramfs, cmdline: guest.cmdline, rootDisk: guest.rootDisk },
    agentReadyTimeoutMs: ctx.agentTimeoutMs,
  });
  await vms.init();
  return vms;
}

export interface BenchTemplate {
  template: Template;
  build: TemplateBuildResult['timings'];
  host: HostInfo;
}

/** An app template: the guest image booted, busybox imported, then snapshotted. Clones have the image. */
export async function buildBenchTemplate(ctx: BenchContext): Promise<BenchTemplate> {
  const host: HostInfo = { accel: ctx.accel.accel, qemuVersion: ctx.host.qemu, machine: MACHINE_TYPE };
  const dir = join(ctx.workDir, 'tmpl');
  await mkdir(join(ctx.workDir, 'run'), { recursive: true, mode: 0o755 });
  const built = await buildTemplate({
    conn: ctx.fc,
    image: ctx.guest,
    vcpus: ctx.opts.vcpus,
    memoryMib: ctx.opts.memoryMib,
    accel: ctx.accel.accel,
    dir,
    id: 'bench',
    name: `${ctx.names.forkPrefix}tmpl`,
    hostId: ctx.hostId,
    qemuVersion: ctx.host.qemu,
    ...(ctx.network === null ? {} : { network: ctx.network }),
    agent: agentOf,
    readyTimeoutMs: ctx.agentTimeoutMs,
    prepare: async (agent) => {
      await agent.importImage(ctx.busybox);
    },
  });
  const template = await openTemplate(built.dir, host, 'full');
  return { template, build: built.timings, host };
}
