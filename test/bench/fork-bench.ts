// `forkd bench fork`: cold boot, libvirt save/restore, fork and pool take on
// the same guest image and size, in one process and one run, then clones
// piling up to the scaling steps. With a NIC, every VM but the restored one
// joins the run's tenant network before its container (network.ts). Writes
// var/bench/fork.json and returns the report. Everything it starts is
// destroyed at the end, on failure and on Ctrl-C (cleanup.ts).

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { dataPaths, loadConfig } from '../../services/contracts/config.js';
import { createLogger } from '../../services/contracts/logger.js';
import type { ForkConnection } from '../../services/hostd/fork/ports.js';
import { openLibvirt } from '../../services/hostd/libvirt.js';
import { TenantNetworks } from '../../services/hostd/network/tenant-networks.js';
import type { BenchOptions, Mode } from './args.js';
import { benchPidOf, BenchCleanup, destroyDomains, namesFor, sweepStale } from './cleanup.js';
import { benchCold } from './cold.js';
import { benchFork, benchPool } from './forks.js';
import { benchAttachment, BenchNetwork, benchNetworkId, nicDescription } from './network.js';
import { goalsOf, renderText, type BenchReport } from './report.js';
import { benchRestore } from './restore.js';
import { modeJson, type ModeJson, type ModeResult } from './samples.js';
import { benchScale, type ScaleResult } from './scale.js';
import { benchNetwork, buildBenchTemplate, busyboxImage, coldVmManager, detectBenchAccel, gitFacts, guestImage, hostFacts, type BenchContext, type BenchTemplate } from './setup.js';
import { configureTcg } from '../../services/hostd/vm/domain-xml.js';

export interface BenchRun {
  report: BenchReport;
  text: string;
  jsonPath: string;
}

export async function runForkBench(opts: BenchOptions, say: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<BenchRun> {
  const started = Date.now();
  const config = loadConfig();
  configureTcg({ tbCacheMib: config.tcgTbCacheMib }); // as hostd does at start
  const log = createLogger(config.logLevel === 'debug' ? 'debug' : 'warn', { svc: 'bench' });
  const benchDir = dataPaths(config.dataDir).bench;
  const names = namesFor(process.pid);
  const cleanup = new BenchCleanup();
  cleanup.installSignalHandlers();
  try {
    const conn = await openLibvirt(config.libvirtUri);
    cleanup.push('close the libvirt connection', () => conn.close());
    await mkdir(benchDir, { recursive: true, mode: 0o755 });
    const stale = await sweepStale(conn, benchDir);
    if (stale.domains.length + stale.dirs.length > 0) say(`bench: removed leftovers of earlier runs: ${[...stale.domains, ...stale.dirs].join(', ')}`);

    const workDir = join(benchDir, names.workDirName);
    await mkdir(workDir, { recursive: true, mode: 0o755 });
    cleanup.push(`remove ${workDir}`, () => rm(workDir, { recursive: true, force: true }));
    // Rooted in the work dir: the network's state file lives (and dies) with the run.
    const nets = new TenantNetworks(workDir, log);
    // The network namespace of a killed run (its work dir was just swept) goes too.
    for (const pid of stale.dirs.map(benchPidOf)) if (pid !== null) await nets.remove(benchNetworkId(pid));
    const network = benchNetwork(config);
    const net = network === null ? null : new BenchNetwork(nets, benchAttachment(process.pid), log);
    // Pushed before the domains' destruction, so it runs after it: no QEMU is left writing to a tap in it.
    if (net) cleanup.push('remove the bench network', () => net.remove());
    const ours = (n: string): boolean => n.startsWith(names.forkPrefix) || n.startsWith(names.vmDomainPrefix);
    cleanup.push('destroy this run’s domains', async () => {
      const gone = await destroyDomains(conn, ours);
      // A start that was in flight when we were interrupted can land after the first sweep.
      await new Promise((r) => setTimeout(r, 1000));
      gone.push(...(await destroyDomains(conn, ours)));
      if (gone.length > 0) say(`bench: destroyed ${gone.length} domain(s) left running: ${gone.join(', ')}`);
    });

    const host = await hostFacts(conn);
    const accel = await detectBenchAccel(conn, config, log, host.qemu);
    say(`bench: accelerator ${accel.accel} (${accel.reason}); QEMU ${host.qemu}, libvirt ${host.libvirt}, ${host.cpus} CPUs, load ${host.loadavgStart.join(' ')}`);
    const guest = await guestImage(config.dataDir, say);
    const busybox = await busyboxImage(workDir);
    const hostId = `bench-${process.pid}`;
    const agentTimeoutMs = accel.accel === 'kvm' ? 60_000 : 300_000;
    const base = { conn, hostId, workDir, accel, log, agentTimeoutMs, network };
    const vms = await coldVmManager(base, guest);
    cleanup.push('close VmManager agent connections', () => vms.close());
    let networkCreateMs: number | null = null;
    if (net) {
      networkCreateMs = await net.create();
      say(`bench: tenant network ${net.attachment.networkId} (${net.attachment.subnet}, internal) ready in ${networkCreateMs} ms`);
    }
    const ctx: BenchContext = { ...base, net, opts, config, fc: conn as unknown as ForkConnection, say, cleanup, names, host, guest, busybox, vms };

    const modes: Partial<Record<Mode, ModeJson>> = {};
    const record = (r: ModeResult): void => {
      modes[r.mode] = modeJson(r);
    };
    const wantsTemplate = opts.modes.includes('fork') || opts.modes.includes('pool') || opts.modes.includes('ready-pool') || opts.scale.length > 0;
    let template: BenchTemplate | null = null;
    if (wantsTemplate) {
      say('bench: building the app template (guest image + busybox image, snapshotted)');
      template = await buildBenchTemplate(ctx);
      say(`bench: template ready: ${JSON.stringify(template.build)}`);
    }
    const runMode = async (mode: Mode, fn: () => Promise<ModeResult>): Promise<void> => {
      if (!opts.modes.includes(mode)) return;
      say(`bench: ${mode} × ${opts.runs}`);
      try {
        record(await fn());
      } catch (err) {
        if (cleanup.interrupted) throw err;
        say(`bench: ${mode} failed: ${(err as Error).message}`);
        record({ mode, label: mode, samples: [], pss: [], pssVmsAlive: 0, errors: [(err as Error).message], extra: {} });
      }
    };
    await runMode('cold', () => benchCold(ctx));
    await runMode('restore', () => benchRestore(ctx));
    await runMode('fork', () => benchFork(ctx, template!));
    await runMode('pool', () => benchPool(ctx, template!));
    await runMode('ready-pool', () => benchPool(ctx, template!, 'ready'));
    let scaling: ScaleResult | null = null;
    if (opts.scale.length > 0 && template) {
      say(`bench: scaling to ${opts.scale.join(', ')} concurrent clones`);
      scaling = await benchScale(ctx, template);
    }

    // Interrupted: the signal handler is cleaning up and exits; a partial report must not replace a good one.
    if (cleanup.interrupted) throw new Error('interrupted');
    const partial: Omit<BenchReport, 'goals'> = {
      benchmark: 'fork',
      date: new Date().toISOString(),
      git: await gitFacts(),
      accel: accel.accel,
      accel_reason: accel.reason,
      host: { ...host, loadavgEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
      guest: { image: guest.id, kernel: guest.kernelVersion, memory_mib: opts.memoryMib, vcpus: opts.vcpus, nic: nicDescription(config.network, net?.attachment ?? null) },
      network: net ? { id: net.attachment.networkId, subnet: net.attachment.subnet, internal: net.attachment.internal, create_ms: networkCreateMs } : null,
      runs: opts.runs,
      quick: opts.quick,
      duration_s: Math.round((Date.now() - started) / 1000),
      template: template ? { build_ms: template.build } : null,
      modes,
      scaling,
      notes: notesFor(accel.accel, net !== null),
    };
    const report: BenchReport = { ...partial, goals: goalsOf(partial) };
    const jsonPath = opts.out ?? join(benchDir, 'fork.json');
    await mkdir(dirname(jsonPath), { recursive: true });
    await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
    return { report, text: renderText(report), jsonPath };
  } finally {
    const failed = await cleanup.run();
    for (const f of failed) say(`bench: cleanup step failed: ${f}`);
    cleanup.removeSignalHandlers();
  }
}

function notesFor(accel: string, networked: boolean): string[] {
  return [
    'Times are wall clock from the request (createColdVm, Connection.restore, forkFromTemplate, pool.take) to the agent answering hello+ping ("ready") and to the first stdout line of a new busybox container reaching the host ("first output").',
    '"ready" excludes identity.set (hostname, machine-id, entropy, clock), which cold boot and the fork modes run next and which is part of "first output"; save/restore has no identity step (it brings back the same VM).',
    '"ready-pool" (FORKD_POOL_MODE=ready): the pool loaded the state, resumed the clone and had its agent answer before the request, so its "ready" is the take minus identity.set; "identity applied" (ready + identity.set, every mode) is when the VM can be handed over.',
    'Cold boot imports the busybox image over the agent channel before its container starts; the saved guest and the template already hold it.',
    ...(networked
      ? [
          '"network" (every mode but save/restore, and the scaling clones): after the VM is made and before its container, the VM joins the run\'s internal tenant network as hostd joins a container\'s VM (joinGuest): its tap into the network\'s namespace and onto its bridge (networkEnsure + networkTap) while identity.set gives the guest its address (networkGuest), then network.hosts to every VM of this run on the network (networkPeers). It is part of "first output", not of "ready" or "identity applied". The namespace was made once before the runs, so networkEnsure is the check of an existing network.',
          'Save/restore is not joined: it brings back the same VM, whose tap libvirt must find in the host\'s namespace at every restore, and hostd never makes VMs that way.',
        ]
      : ['No NIC (FORKD_NETWORK=none): no VM joins a network and there is no network step.']),
    'PSS: sum of Pss: in /proc/<qemu pid>/smaps_rollup after the VMs idled for the settle time; forks share the template memory file\'s page cache, so their PSS depends on how many siblings are alive (see the scaling table).',
    `Accelerator ${accel}: ${accel === 'tcg' ? 'every guest instruction is translated by QEMU; host numbers under KVM will differ (mostly the cold boot and agent steps).' : 'hardware virtualisation.'}`,
    'The host is shared with other work (see load averages); numbers are noisy.',
  ];
}
