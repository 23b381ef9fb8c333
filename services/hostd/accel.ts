// Which accelerator this host's guests run on. KVM is used only when a probe
// guest booted with KVM actually reaches userspace: /dev/kvm can exist and still
// be unusable (KVM-PVM in a nested VM runs only PVM guest kernels and a stock
// one hangs). Otherwise TCG. The verdict is cached per host and kernel, and
// FORKD_ACCEL overrides it.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from '../../native/libvirt/index.js';
import { buildProbeImage, type ProbeImage } from '../../images/guest/probe.js';
import { dataPaths, type Accel, type ForkdConfig } from '../contracts/config.js';
import { ForkdError } from '../contracts/errors.js';
import type { Logger } from '../contracts/logger.js';
import { makePassableForQemu } from './qemu-access.js';
import { buildDomainXml } from './vm/domain-xml.js';

export interface AccelVerdict {
  accel: Accel;
  reason: string;
  /** Probe boot to userspace, when one ran now. */
  probeMs?: number;
}

/** KVM reaches the probe's userspace in well under a second; a hung PVM boot never does. */
export const KVM_PROBE_TIMEOUT_MS = 20_000;
/** TCG emulates the BIOS and kernel decompression: several seconds, more on a loaded host. */
export const TCG_PROBE_TIMEOUT_MS = 180_000;

interface CachedVerdict {
  key: string;
  accel: Accel;
  reason: string;
  at: string;
}

export async function detectAccel(opts: { conn: Connection; config: ForkdConfig; log: Logger; qemuVersion: string }): Promise<AccelVerdict> {
  const { conn, config, log } = opts;
  if (config.accel !== 'auto') return { accel: config.accel, reason: 'override (FORKD_ACCEL)' };
  const probe = await buildProbeImage(config.dataDir);
  const kvmPresent = existsSync('/dev/kvm');
  const key = `${probe.id}|qemu ${opts.qemuVersion}|kvm ${kvmPresent}`;
  const cacheFile = join(dataPaths(config.dataDir).hostState, 'accel.json');
  const cached = await readCache(cacheFile);
  if (cached?.key === key) return { accel: cached.accel, reason: `cached: ${cached.reason}` };

  let verdict: AccelVerdict;
  if (!kvmPresent) {
    verdict = { accel: 'tcg', reason: 'no /dev/kvm' };
  } else {
    log.info('probing KVM: booting a tiny guest', { timeoutMs: KVM_PROBE_TIMEOUT_MS });
    let failure = '';
    const ms = await bootProbe(conn, probe, 'kvm', config, KVM_PROBE_TIMEOUT_MS).catch((err: Error) => {
      failure = err.message;
      return null;
    });
    verdict = ms === null
      ? { accel: 'tcg', reason: `KVM probe failed: ${failure.split('\n')[0]!.slice(0, 200)}` }
      : { accel: 'kvm', reason: `KVM probe booted in ${ms} ms`, probeMs: ms };
    log.info('KVM probe', { verdict: verdict.reason });
  }
  await mkdir(dataPaths(config.dataDir).hostState, { recursive: true });
  await writeFile(cacheFile, JSON.stringify({ key, accel: verdict.accel, reason: verdict.reason, at: new Date().toISOString() } satisfies CachedVerdict, null, 2));
  return verdict;
}

/** Proves a guest boots on `accel`: the probe reaches userspace. Returns the time it took. */
export async function checkGuestBoots(conn: Connection, config: ForkdConfig, accel: Accel): Promise<number> {
  const probe = await buildProbeImage(config.dataDir);
  return bootProbe(conn, probe, accel, config, accel === 'kvm' ? KVM_PROBE_TIMEOUT_MS : TCG_PROBE_TIMEOUT_MS);
}

async function readCache(file: string): Promise<CachedVerdict | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as CachedVerdict;
  } catch {
    return undefined;
  }
}

async function bootProbe(conn: Connection, probe: ProbeImage, accel: Accel, config: ForkdConfig, timeoutMs: number): Promise<number> {
  const id = randomUUID().slice(0, 8);
  await mkdir(join(config.dataDir, 'run'), { recursive: true });
  await makePassableForQemu([config.dataDir, join(config.dataDir, 'run')]);
  const dir = await mkdtemp(join(config.dataDir, 'run', `probe-${id}-`));
  const consoleLog = join(dir, 'console.log');
  const xml = buildDomainXml({
    name: `forkd-probe-${id}`,
    uuid: randomUUID(),
    type: accel === 'kvm' ? 'kvm' : 'qemu',
    vcpus: 1,
    memoryMib: 128,
    kernel: probe.kernel,
    initramfs: probe.initramfs,
    cmdline: probe.cmdline,
    disks: [],
    agentSocket: join(dir, 'agent.sock'),
    consoleLog,
    metadata: { vm: id, host: config.hostId, kind: 'probe', created: new Date().toISOString() },
    memory: { mode: 'anonymous' },
  });
  const started = Date.now();
  const domain = await conn.createDomainXML(xml, 0).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  try {
    while (Date.now() - started < timeoutMs) {
      const out = await readFile(consoleLog, 'utf8').catch(() => '');
      if (out.includes(probe.marker)) return Date.now() - started;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new ForkdError('ERR_TIMEOUT', `probe guest (${accel}) did not reach userspace within ${timeoutMs} ms; console: ${(await readFile(consoleLog, 'utf8').catch(() => '')).slice(-500)}`);
  } finally {
    await domain.destroy().catch(() => {}); // it may have powered itself off already
    await domain.free();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The host check (a probe boot on the chosen accelerator) is cached like the verdict. */
export async function hostCheckCacheValid(config: ForkdConfig, accel: Accel, qemuVersion: string): Promise<boolean> {
  const probe = await buildProbeImage(config.dataDir);
  const c = await readCache(join(dataPaths(config.dataDir).hostState, 'host-check.json'));
  return c?.key === `${probe.id}|qemu ${qemuVersion}|${accel}`;
}

export async function recordHostCheck(config: ForkdConfig, accel: Accel, qemuVersion: string, bootMs: number): Promise<void> {
  const probe = await buildProbeImage(config.dataDir);
  await mkdir(dataPaths(config.dataDir).hostState, { recursive: true });
  const record: CachedVerdict = { key: `${probe.id}|qemu ${qemuVersion}|${accel}`, accel, reason: `probe booted in ${bootMs} ms`, at: new Date().toISOString() };
  await writeFile(join(dataPaths(config.dataDir).hostState, 'host-check.json'), JSON.stringify(record, null, 2));
}
