// Starts hostd for this host: libvirt, the accelerator verdict, the guest image,
// the VMs left by an earlier hostd (adopted before any job is taken), the job worker.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from '../../native/libvirt/index.js';
import { buildGuestImage, type GuestImage } from '../../images/guest/build.js';
import { dataPaths, PACKAGE_ROOT, type ForkdConfig } from '../contracts/config.js';
import { CleanupStack } from '../contracts/cleanup-stack.js';
import { ForkdError } from '../contracts/errors.js';
import { errorFields, type Logger } from '../contracts/logger.js';
import { connectRedis } from '../contracts/redis.js';
import { loadSecretKey } from '../contracts/secrets/index.js';
import { EventPublisher } from '../contracts/events/index.js';
import { ExitWatcher } from './events/exit-watcher.js';
import { HostMetrics } from './metrics/host-metrics.js';
import { findContainer } from './handlers/guest.js';
import { enableKsm } from './ksm.js';
import { detectAccel, type AccelVerdict } from './accel.js';
import { hostInfoHandler } from './handlers/host-info.js';
import { containerHandlers } from './handlers/index.js';
import { CreatesInFlight } from './handlers/creates-in-flight.js';
import { linkCalls } from './network/link-calls.js';
import { podForkHandlers, realiasPods } from './pods/pod-fork.js';
import { clearForkStreams, liveForkHandlers, realiasAdopted, resumeInterruptedParents, sweepForkPoints } from './live-fork/live-forks.js';
import { forkForContainer, templateHandlers } from './handlers/templates.js';
import type { JobHandlers } from './job-handlers.js';
import { libvirtCall, openLibvirt } from './libvirt.js';
import { PortPublisher } from './ports/port-publisher.js';
import { TemplateCache } from './templates/template-cache.js';
import { TemplateRegistry } from './templates/template-registry.js';
import { configureTcg, networkSpecFor } from './vm/domain-xml.js';
import { installHostGuard } from './network/host-guard.js';
import { Taps } from './network/taps.js';
import { TenantNetworks } from './network/tenant-networks.js';
import { VmNetworks } from './network/vm-networks.js';
import { networkRemoveHandler } from './handlers/network.js';
import { VmManager, type VmManagerOptions } from './vm/vm-manager.js';
import { HostWorker } from './worker.js';
import { hostBlobCache } from './blobs/host-blob-cache.js';
import type { BlobCache } from './blobs/blob-cache.js';
import { volumeCreateHandler, volumeDeleteHandler } from './volumes/handlers.js';
import { VolumeStore } from './volumes/volume-store.js';

export interface RunningHostd {
  accel: AccelVerdict;
  conn: Connection;
  vms: VmManager;
  ports: PortPublisher;
  guestImage: GuestImage;
  templates: TemplateRegistry;
  /** Where image layers come from on this host (tests read its stats). */
  blobs: BlobCache;
  /**
   * Destroys the warm-pool shells (nothing can adopt them), then stops taking
   * jobs and closes agent connections; VMs keep running for the next hostd to adopt.
   */
  stop(): Promise<void>;
}

/** Knobs tests use; production runs on the defaults. */
export interface HostdOptions {
  vm?: Pick<VmManagerOptions, 'bootOverride' | 'agentReadyTimeoutMs' | 'adoptTimeoutMs'>;
  /** Default AGENT_BUNDLE. */
  agentBundle?: string;
  /** Aborts the start between steps (a SIGTERM while starting): what was started is undone and startHostd rejects. */
  signal?: AbortSignal;
}

/** The agent bundle the guest image carries (built by `npm run build`). */
export const AGENT_BUNDLE = join(PACKAGE_ROOT, 'dist', 'agent', 'agent.mjs');

async function guestImage(config: ForkdConfig, log: Logger, agentBundle: string): Promise<GuestImage> {
  if (!existsSync(agentBundle)) {
    throw new ForkdError('ERR_CONFIG', `the guest agent bundle ${agentBundle} is missing: run \`npm run build\` (it bundles services/agent into dist/agent/agent.mjs)`);
  }
  const started = Date.now();
  const image = await buildGuestImage({
    dataDir: config.dataDir,
    agentBundle,
    onProgress: (step, detail) => log.info(`guest image: ${step}`, detail === undefined ? {} : { detail }),
  });
  log.info('guest image ready', { id: image.id, ms: Date.now() - started });
  return image;
}

export async function startHostd(config: ForkdConfig, redisUrl: string, log: Logger, opts: HostdOptions = {}): Promise<RunningHostd> {
  const cleanup = new CleanupStack();
  const checkpoint = (): void => opts.signal?.throwIfAborted();
  // Outside the try: a failed or aborted start destroys pool shells first too (see stop below).
  let templates: TemplateRegistry | undefined;
  configureTcg({ tbCacheMib: config.tcgTbCacheMib });
  try {
    await mkdir(config.dataDir, { recursive: true });
    const conn = await openLibvirt(config.libvirtUri);
    cleanup.push('libvirt connection', () => conn.close());
    // host.info's own: the main connection runs one call at a time (native/libvirt/call.ts), VM operations queue there.
    const infoConn = await openLibvirt(config.libvirtUri);
    cleanup.push('libvirt connection (host.info)', () => infoConn.close());
    // A second connection for VM teardown: native/libvirt runs one call at a time per connection, and a destroy
    // waits for QEMU to exit (1–2 s under TCG), which held the next take's resume behind it (docs/benchmarks.md).
    const teardownConn = await openLibvirt(config.libvirtUri);
    cleanup.push('libvirt teardown connection', () => teardownConn.close());
    const [lib, hyp] = await libvirtCall('reading versions', () => Promise.all([conn.getLibVersion(), conn.getVersion()]));
    const libvirtVersion = lib.string;
    const qemuVersion = hyp.string;
    const accel = await detectAccel({ conn, config, log, qemuVersion });
    if (config.ksm === 'on' && !(await enableKsm())) log.warn('FORKD_KSM=on but this host has no writable KSM (/sys/kernel/mm/ksm/run)');
    log.info(`accelerator: ${accel.accel} (${accel.reason})`, { accel: accel.accel, libvirtVersion, qemuVersion });

    const image = await guestImage(config, log, opts.agentBundle ?? AGENT_BUNDLE);
    checkpoint();
    // One NIC for cold VMs, templates and so clones (a clone's device must be its template's).
    const network = networkSpecFor(config.network);
    const netLog = log.child({ part: 'network' });
    const taps = new Taps(join(config.dataDir, 'run', 'taps'));
    const nets = new TenantNetworks(join(config.dataDir, 'run'), netLog);
    // Bound now, not on the first take's path (the tap attach, link-calls.ts); null falls back to `ip`.
    if (!linkCalls()) netLog.warn('in-process link calls unavailable (koffi could not bind libc): tap attaches run ip');
    if (network !== null) {
      // Before any VM runs: the wall between guests and the host.
      const guard = await installHostGuard();
      netLog.info('host guard installed: guests cannot reach this host', { uplinks: guard.uplinks });
    }
    let vmNetworks: VmNetworks | undefined;

    const vms = new VmManager({
      conn,
      teardownConn,
      hostId: config.hostId,
      vmsDir: dataPaths(config.dataDir).vms,
      accel: accel.accel,
      log: log.child({ part: 'vms' }),
      guest: { kernel: image.kernel, initramfs: image.initramfs, cmdline: image.cmdline, rootDisk: image.rootDisk },
      network,
      taps,
      releaseNic: async (record) => { await (vmNetworks ? vmNetworks.release(record) : record.tap ? taps.remove(record.tap) : undefined); },
      ...opts.vm,
    });
    vmNetworks = new VmNetworks(nets, taps, () => vms.running(), netLog);
    await vms.init();
    // Not destroyed on stop: a restarted hostd adopts them.
    cleanup.push('agent connections', () => vms.close());
    const ports = new PortPublisher(log.child({ part: 'ports' }));
    cleanup.push('published ports', () => ports.closeAll());
    await resumeInterruptedParents(conn, config.hostId, log).catch((err) => log.warn('resuming interrupted live-fork parents failed', errorFields(err)));
    await vms.adopt();
    realiasAdopted(vms);
    realiasPods(vms);
    checkpoint();
    // A guest that dies on its own (panic, QEMU killed) is forgotten, and its ports closed.
    const unwatch = await vms.watch((vmId) => void ports.unpublish(vmId));
    cleanup.push('domain lifecycle events', unwatch);
    for (const v of await vms.list()) {
      const vm = vms.get(v.vmId);
      if (vm.record.ports.length === 0) continue;
      const again = vm.record.ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostAddress }));
      await ports.publish(vm.vmId, () => vm.agent, again).catch((err) => {
        log.warn('could not publish an adopted VM\'s ports again', { vm: vm.vmId, ...errorFields(err) });
      });
    }
    // Taps and namespaces an earlier hostd left (VMs gone while it was down, a crash mid-create). Pool shells'
    // taps go too: load() below destroys those shells.
    const sweptTaps = await taps.sweep(vms.liveTaps());
    const sweptNetns = await nets.sweep();
    if (sweptTaps.length + sweptNetns.length > 0) netLog.info('removed leftover network devices', { taps: sweptTaps, namespaces: sweptNetns });
    // The same key as the API's: FORKD_SECRET_KEY, else the data directory's secret.key (made by whichever starts first).
    const secretKey = await loadSecretKey({ keyFile: dataPaths(config.dataDir).secretKey, configured: config.secretKey });
    // Image layers: read in place from this data directory's image store, else cached or fetched from the API by digest.
    const blobs = hostBlobCache(config, secretKey, vms, () => templates, log.child({ part: 'blobs' }));
    // After adoption: pool shells and template builds of an earlier hostd are destroyed, templates on disk checked, pools refilled.
    templates = new TemplateRegistry({
      blobs,
      conn, hostId: config.hostId, dataDir: config.dataDir, accel: accel.accel, qemuVersion, guest: image, vms, network, taps, poolMode: config.poolMode, secretKey, log: log.child({ part: 'templates' }),
      cache: config.templateCacheDir ? new TemplateCache(config.templateCacheDir) : null,
    });
    const registry = templates;
    cleanup.push('warm pools', () => registry.close());
    checkpoint();
    await templates.load();
    await sweepForkPoints({ vms, templates, log }).catch((err) => log.warn('sweeping fork points failed', errorFields(err)));
    const streamsDir = dataPaths(config.dataDir).forkStreams;
    const staleStreams = await clearForkStreams(streamsDir);
    if (staleStreams.length > 0) log.warn('removed live-fork RAM streams an earlier hostd left', { streams: staleStreams });
    checkpoint();

    const volumeStore = new VolumeStore(dataPaths(config.dataDir).volumes, log.child({ part: 'volumes' }));
    await volumeStore.init();
    const redis = await connectRedis(redisUrl);
    cleanup.push('redis', () => redis.quit());
    const metrics = new HostMetrics(config.hostId, { vms, templates: registry });
    const events = new EventPublisher(redis, { retain: config.eventsRetain, warn: (msg, fields) => log.warn(msg, fields), onPublished: (e) => metrics.onEvent(e) });
    cleanup.push('metrics snapshots', metrics.publish(redis, config.hostId, log.child({ part: 'metrics' })));
    const exits = new ExitWatcher(events, log.child({ part: 'events' }));
    cleanup.push('exit watchers', () => exits.close());
    await watchAdopted(vms, exits, log);
    const containerJobs = containerHandlers({ vms, ports, redis, log, secretKey, volumes: volumeStore, events, exits, metrics, blobs, creates: new CreatesInFlight(), fork: forkForContainer(templates), templateImage: (id) => registry.imageOf(id), ...(network === null ? {} : { networks: vmNetworks }) });
    const liveForks = { conn, hostId: config.hostId, vms, templates: registry, ports, events, exits, log, taps, streamsDir, reuse: { windowMs: config.forkReuseMs, maxDirtyMib: config.forkReuseMaxDirtyMib }, ...(network === null ? {} : { networks: vmNetworks }) };
    const handlers: JobHandlers = {
      'host.info': hostInfoHandler({ conn: infoConn, hostId: config.hostId, accel, libvirtVersion, qemuVersion }),
      ...containerJobs,
      ...liveForkHandlers(liveForks, containerJobs['vm.destroy']),
      ...podForkHandlers(liveForks),
      ...templateHandlers(templates, network === null ? undefined : vmNetworks),
      'network.remove': networkRemoveHandler(nets),
      'volume.create': volumeCreateHandler(volumeStore),
      'volume.delete': volumeDeleteHandler(volumeStore, vms),
    };
    const worker = new HostWorker({
      hostId: config.hostId, accel: accel.accel, redis, handlers, log,
      concurrency: config.hostdJobConcurrency, streamConcurrency: config.streamsPerHost, lockMs: config.jobLockMs,
      versions: { libvirtVersion, qemuVersion },
    });
    await worker.start();
    cleanup.push('worker', () => worker.stop());
    checkpoint();
    const stop = async (): Promise<void> => {
      // Pool shells go first, before the job drain: it may wait minutes for a
      // build or on a lost Redis, and a process killed meanwhile would leave
      // them running. A job still running after this forks without the pool,
      // and a build that finishes starts no pool (the registry is closed).
      await registry.close();
      await cleanup.run();
    };
    return { accel, conn, vms, ports, guestImage: image, templates: registry, blobs, stop };
  } catch (err) {
    await templates?.close();
    await cleanup.run();
    throw err;
  }
}

/** Adopted VMs whose container still runs get their exit watched again (their `die` is then reported). */
async function watchAdopted(vms: VmManager, exits: ExitWatcher, log: Logger): Promise<void> {
  for (const v of await vms.list()) {
    const vm = vms.find(v.vmId);
    const { tenantId, containerId, containerName } = vm?.record ?? {};
    if (!vm || vm.state !== 'running' || !tenantId || !containerId) continue;
    const c = await findContainer(vm.agent, containerId).catch((err: unknown) => {
      log.warn('could not ask an adopted VM about its container', { vm: vm.vmId, ...errorFields(err) });
      return null;
    });
    if (c?.status === 'running') exits.watch(vm, { tenantId, containerId, ...(containerName ? { name: containerName } : {}), image: c.image });
  }
}
