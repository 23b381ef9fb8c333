// Every environment variable forkd reads, with its default, in one place. The
// README's configuration table is generated from the same list (see
// `CONFIG_VARIABLES`), and a unit test keeps the two in step.
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ForkdError } from './errors.js';
import { parseSecretKey } from './secrets/key.js';

/** The repository (or installed package) root: the nearest folder above with forkd's package.json. */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(from: string): string {
  // Source runs from services/contracts, the build from dist/services/contracts.
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'services'))) return dir;
  }
  return resolve(from, '..', '..');
}

export type Accel = 'kvm' | 'tcg';

/** The NIC every VM, template and clone gets: a tap on the VM's tenant network (isolated from the host and other tenants), or none. */
export type NetworkMode = 'tenant' | 'none';

export interface ForkdConfig {
  dataDir: string;
  listen: { host: string; port: number };
  redisUrl: string | undefined;
  databaseUrl: string | undefined;
  accel: Accel | 'auto';
  hostId: string;
  libvirtUri: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  jobTimeoutMs: number;
  poolSize: number;
  poolMode: 'shell' | 'ready';
  /** hostd under TCG: each VM's translated-code buffer, MiB; null: QEMU's default. */
  tcgTbCacheMib: number | null;
  network: NetworkMode;
  ksm: 'on' | 'leave';
  imageLimits: ImageLimits;
  stopTimeoutSec: number;
  /** API: how often the reconciler compares hosts with the database (0: only at start). */
  reconcileIntervalMs: number;
  /** API: how long a VM may run on a host without a live row before the reconciler destroys it. */
  orphanGraceMs: number;
  /** FORKD_SECRET_KEY, parsed; undefined: the key file in the data directory (see secrets/key.ts). */
  secretKey: Buffer | undefined;
  /** Host ports a tenant key may publish (never below 1024 whatever this says); admin keys may use any. */
  publishPortRange: PortRange;
  /** Concurrent streams (logs, exec) the API lets one tenant hold, across hosts. */
  streamsPerTenant: number;
  /** Concurrent streams the API lets all tenants together hold on one host; also the ceiling of hostd's stream worker. */
  streamsPerHost: number;
  /** hostd's slots for ordinary (non-stream) jobs. */
  hostdJobConcurrency: number;
  /** API: desktops (docs/desktops.md): browser token lifetime, idle timeout and its warning, the desktop VM's memory. */
  desktop: { tokenTtlSec: number; idleSec: number; idleWarnSec: number; memoryMib: number; poolSize: number };
  /** API: the pod a Docker create makes when its io.forkd.pod label names none (docs/pods.md "Compose"). */
  dockerPod: { memoryMib: number; vcpus: number };
  /** hostd: how long a job's lock lasts unrenewed; a dead hostd's jobs are handed over within about twice this. */
  jobLockMs: number;
  /** API: the total size (MiB) of one tenant's volumes (docs/volumes.md). */
  volumeMibPerTenant: number;
  /** Docker Engine API: the unix socket (acts for the default tenant), null when switched off. */
  dockerSocket: string | null;
  /** Docker Engine API on TCP (requests carry a forkd key), null unless FORKD_DOCKER_LISTEN is set. */
  dockerListen: { host: string; port: number } | null;
  /** About how many lifecycle events the Redis stream keeps (FORKD_EVENTS_RETAIN): the window a reconnecting client can resume in. */
  eventsRetain: number;
  /** hostd: a live fork of a parent captured at most this long ago (ms) may reuse that capture (FORKD_FORK_REUSE_SEC; 0: never). */
  forkReuseMs: number;
  /** hostd: …if the guest wrote at most this much since, by estimate (FORKD_FORK_REUSE_MAX_DIRTY_MIB). */
  forkReuseMaxDirtyMib: number;
  /** FORKD_TEMPLATE_CACHE_DIR: where hostd copies image templates to and from (null: no cache). */
  templateCacheDir: string | null;
  /** Registry client (images/registry): bound on waiting for a registry's answer and between body bytes. */
  registryTimeoutMs: number;
  /** PEM CA bundle trusted for HTTPS registries besides Node's roots (FORKD_REGISTRY_CA_FILE), undefined: none. */
  registryCaFile: string | undefined;
  /** Registries (host[:port]) spoken to over plain HTTP without asking, like dockerd's insecure-registries (FORKD_REGISTRY_INSECURE). */
  registryInsecure: string[];
  /** FORKD_URL: the API (CLI requests; hostd fetches image blobs it lacks from its /internal/blobs). */
  apiUrl: string;
  /** hostd: bytes its blob cache (layers fetched by digest) may hold before unused ones are evicted. */
  blobCacheBytes: number;
  /** API: a host whose heartbeat is older than this is down: nothing is placed there and its containers show `lost`. */
  hostDownMs: number;
}

/** An inclusive range of TCP ports. */
export interface PortRange {
  min: number;
  max: number;
}

/**
 * Ceilings on what one uploaded image may unpack to, enforced while the API
 * decompresses it (images/containers/import/ceilings.ts); see docs/images.md.
 */
export interface ImageLimits {
  /** Bytes all of one image's layers unpack to, summed (FORKD_IMAGE_MAX_UNPACKED_BYTES). */
  maxUnpackedBytes: number;
  /** Tar entries (files, directories, links, whiteouts) in one layer (FORKD_LAYER_MAX_FILES). */
  maxLayerFiles: number;
  /** Layers in one image (FORKD_IMAGE_MAX_LAYERS). */
  maxLayers: number;
}

/**
 * 8 GiB: as much as the largest upload the API takes (MAX_IMAGE_UPLOAD_BYTES), so
 * an archive of plain layers that fits the upload fits here; a bomb stops there.
 */
export const DEFAULT_IMAGE_MAX_UNPACKED_BYTES = 8 * 1024 ** 3;
/** 500,000: twice the largest common layers (a full TeX Live, big node_modules), half the guest extractor's own backstop of 1,000,000. */
export const DEFAULT_LAYER_MAX_FILES = 500_000;
/**
 * 48: the guest stacks an image's layers in one overlay mount whose options must
 * fit one page (68 bytes a layer; about 55 fit), so a deeper image could import
 * but never run. Docker Hub's official images have well under 20.
 */
export const DEFAULT_IMAGE_MAX_LAYERS = 48;
/** The most FORKD_IMAGE_MAX_LAYERS may be raised to: the overlay mount limit above. */
export const IMAGE_MAX_LAYERS_CEILING = 55;

export interface ConfigVariable {
  name: string;
  default: string;
  meaning: string;
}

export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { name: 'FORKD_DATA_DIR', default: '<repo>/var', meaning: 'Where forkd keeps its database, images, VM disks, sockets and the admin key.' },
  { name: 'FORKD_LISTEN', default: '127.0.0.1:7700', meaning: 'Address the API listens on (`host:port`).' },
  { name: 'REDIS_URL', default: '(private redis-server on `var/redis.sock`)', meaning: 'Redis for the job queues. Unset: `forkd up` starts a private redis-server and stops it on exit.' },
  { name: 'DATABASE_URL', default: '`file:var/forkd.db` (SQLite)', meaning: '`file:…` for SQLite or `postgresql://…` for PostgreSQL.' },
  { name: 'FORKD_ACCEL', default: 'auto', meaning: '`kvm`, `tcg` or `auto` (boot a probe guest with KVM once; fall back to TCG).' },
  { name: 'FORKD_HOST_ID', default: '(the machine\'s hostname)', meaning: 'This host\'s id; hostd takes jobs from the queue named after it.' },
  { name: 'FORKD_LIBVIRT_URI', default: 'qemu:///system', meaning: 'libvirt connection URI used by hostd.' },
  { name: 'FORKD_LOG_LEVEL', default: 'info', meaning: '`debug`, `info`, `warn` or `error`.' },
  { name: 'FORKD_JOB_TIMEOUT_MS', default: '120000', meaning: 'How long the API waits for a host to finish a job before answering ERR_TIMEOUT.' },
  { name: 'FORKD_POOL_SIZE', default: '1', meaning: 'Warm clone shells kept per template that forkd makes on first use (0 disables the pool).' },
  { name: 'FORKD_POOL_MODE', default: 'ready', meaning: '`ready`: pool clones are resumed ahead of time, their agent connected, machine-id, MAC and entropy applied, one throwaway container run and, for an image\'s template, a container of that image set up and held with forkd\'s launcher waiting for the command (so a take only sets hostname and clock, and a matching container create takes the held container and its start only hands the command over); each idle ready clone runs (measured under TCG: 0.7 % of one core, 196 MiB PSS) and idles with its NIC detached until the take attaches it to the container\'s network. `shell`: pool clones wait paused in `-incoming defer` with the template\'s device state loaded (0 % CPU, 43 MiB PSS), and a take resumes them and sets their whole identity (`forkd run --rm` about 0.8 s slower under TCG, docs/benchmarks.md).' },
  { name: 'FORKD_NETWORK', default: 'tenant', meaning: '`tenant`: every VM gets a NIC that joins its tenant network (a bridge in a network namespace of its own, walled off from the host and other tenants; see docs/networking.md). `none`: VMs have no NIC at all (published ports still work, they use the agent channel). Templates built with another setting are stale and rebuilt.' },
  { name: 'FORKD_TCG_TB_CACHE_MIB', default: '0', meaning: 'Under TCG (no usable KVM): the size of each VM\'s translated-code buffer in MiB (libvirt `<tcg><tb-cache>`, QEMU `tb-size`). 0: QEMU\'s default. A smaller buffer lowers each clone\'s memory; too small and QEMU flushes and re-translates often. Ignored under KVM. See docs/benchmarks.md.' },
  { name: 'FORKD_KSM', default: 'leave', meaning: '`on` switches on kernel same-page merging at hostd start where the host has it; `leave` keeps the host\'s setting. Reported in `forkd info` either way.' },
  { name: 'FORKD_IMAGE_MAX_UNPACKED_BYTES', default: `${DEFAULT_IMAGE_MAX_UNPACKED_BYTES} (8 GiB)`, meaning: 'Most bytes one image\'s layers may unpack to, summed. Counted as they come out of gzip/zstd while the API imports an upload (sizes in headers and manifests are not trusted); past it the import stops with ERR_IMAGE_TOO_LARGE (413) and stores nothing. Also caps what the uploaded archive itself unpacks to.' },
  { name: 'FORKD_LAYER_MAX_FILES', default: String(DEFAULT_LAYER_MAX_FILES), meaning: 'Most tar entries (files, directories, links, whiteouts) in one image layer; counted while the layer streams in at import, ERR_IMAGE_TOO_LARGE past it.' },
  { name: 'FORKD_IMAGE_MAX_LAYERS', default: String(DEFAULT_IMAGE_MAX_LAYERS), meaning: `Most layers in one image, 1 to ${IMAGE_MAX_LAYERS_CEILING} (the guest mounts all layers in one overlay whose options must fit a page); ERR_IMAGE_TOO_LARGE past it.` },
  { name: 'FORKD_STOP_TIMEOUT_SEC', default: '50', meaning: 'How long a stop (SIGTERM, Ctrl-C) may take after the warm-pool shells are destroyed (draining jobs, closing queues) before `forkd up`/`forkd hostd` exits anyway with status 1, naming the step it left. Below systemd\'s TimeoutStopSec (60 in ops/systemd). Running VMs are kept either way.' },
  { name: 'FORKD_RECONCILE_INTERVAL_MS', default: '30000', meaning: 'API: how often each up host\'s VMs (`vm.list`) are compared with the database; VMs lost behind forkd\'s back are marked `lost` (quota, placement weight and address released), VMs a host runs without a live row are destroyed. It also runs once at API start. 0: only at start.' },
  { name: 'FORKD_RECONCILE_ORPHAN_GRACE_MS', default: '120000', meaning: 'API: how long a VM may run on a host with no live row (a create in flight, a row being removed) before the reconciler destroys it.' },
  { name: 'FORKD_SECRET_KEY', default: '(contents of `var/secret.key`, made on first start)', meaning: 'The key (32 bytes, base64: `openssl rand -base64 32`) that seals container env in job payloads and the database. Unset: the API and hostd share `var/secret.key` (0600), which works when both run on this machine; set the same value on every API and hostd when they run on different machines. See docs/secrets.md.' },
  { name: 'FORKD_PUBLISH_PORT_RANGE', default: '1024-65535', meaning: 'Host ports a tenant key may publish (`min-max`, inclusive). Ports below 1024 stay refused to tenant keys even if the range includes them; the admin key may publish any port. A request without `hostPort` (the host picks one) is always allowed.' },
  { name: 'FORKD_STREAMS_PER_TENANT', default: '16', meaning: 'Concurrent streams (`logs`, `logs -f`, `exec`) one tenant may hold across all hosts; one more is refused with 429 ERR_TOO_MANY_STREAMS. See docs/streams.md.' },
  { name: 'FORKD_STREAMS_PER_HOST', default: '256', meaning: 'Concurrent streams all tenants together may hold on one host (429 ERR_TOO_MANY_STREAMS past it). hostd runs streams on a queue of their own with this many slots, apart from its job slots.' },
  { name: 'FORKD_HOSTD_JOB_CONCURRENCY', default: '8', meaning: 'Jobs (create, stop, build…) one hostd runs at once. Streams do not take these slots.' },
  { name: 'FORKD_JOB_LOCK_SEC', default: '60', meaning: 'hostd: how long a job it runs stays locked to it without a renewal (renewed every half of it). A hostd that dies (SIGKILL, crash) holding jobs loses them after this; the next hostd takes them over within about twice this (most are redone; a live fork is cleaned up and fails, ERR_INTERRUPTED). Shorter hands over sooner but risks a lock lost to a long-blocked event loop.' },
  { name: 'FORKD_DOCKER_SOCKET', default: '`var/docker.sock`', meaning: 'Unix socket (mode 0600) where `forkd up` serves the Docker Engine API for the default tenant: `DOCKER_HOST=unix://<path>`. `off`: no socket. See docs/docker.md.' },
  { name: 'FORKD_DOCKER_LISTEN', default: '(unset: no TCP)', meaning: 'Also serve the Docker Engine API on TCP at `host:port`; every request must carry a forkd key (`Authorization: Bearer <key>`, the docker CLI sends it from `HttpHeaders` in its config.json) and acts for that key\'s tenant. See docs/docker.md.' },
  { name: 'FORKD_DOCKER_POD_MEMORY_MIB', default: '512', meaning: 'Memory of the pod a Docker create makes when its `io.forkd.pod` label names a pod that does not exist (a compose project placed in one pod): its containers\' limits (64 MiB each by default) must fit in it, less the 96 MiB the guest keeps. The Docker API removes such a pod with its last container. See docs/pods.md.' },
  { name: 'FORKD_DOCKER_POD_VCPUS', default: '1', meaning: 'vCPUs of the pod a Docker create makes for an `io.forkd.pod` label naming no pod.' },
  { name: 'FORKD_EVENTS_RETAIN', default: '10000', meaning: 'About how many lifecycle events (container, VM, template, image, network, volume) the Redis stream keeps, 100 to 10000000: a client of `GET /v1/events` that reconnects with `since` misses nothing within this window (docs/operability.md).' },
  { name: 'FORKD_FORK_REUSE_SEC', default: '30', meaning: 'hostd: a fork of a running container captured at most this many seconds ago reuses that capture (no pause, nothing written) when its guest wrote little since; the children are the parent as it was then, and the answer says `reused: true` with `takenAt`. 0 switches reuse off; `fresh: true` in the request skips it (docs/fork.md).' },
  { name: 'FORKD_FORK_REUSE_MAX_DIRTY_MIB', default: '16', meaning: 'hostd: the most guest RAM (MiB, by estimate: QEMU\'s dirty rate over one second times the capture\'s age) a parent may have written since its last capture for a fork to reuse it.' },
  { name: 'FORKD_TEMPLATE_CACHE_DIR', default: '(unset: off)', meaning: 'A folder where hostd keeps a copy of every image template it builds, keyed by what the template is made of (guest image, container image, size, NIC, accelerator, QEMU); a later build of the same template on any data directory of this machine copies it instead of booting a guest. App templates (with containers) are never cached. The test suite sets it to `var/template-cache`. See docs/fork.md.' },
  { name: 'FORKD_URL', default: 'http://127.0.0.1:7700', meaning: 'CLI: the API to talk to. hostd: the API it fetches image layers from (`GET /internal/blobs/:digest`) when its data directory lacks them (docs/multi-host.md).' },
  { name: 'FORKD_BLOB_CACHE_MIB', default: '10240', meaning: 'hostd: MiB of image layers fetched from the API it keeps under `<data dir>/blobs`; past it the least recently used layers no container or template on this host uses are removed. See docs/multi-host.md.' },
  { name: 'FORKD_HOST_DOWN_SEC', default: '20', meaning: 'API: a host not heard from (heartbeat every 5 s) for this long is down: nothing new is placed on it and its containers show `lost` until it comes back. See docs/multi-host.md.' },
  { name: 'FORKD_API_KEY', default: '(contents of `var/admin.key`)', meaning: 'CLI: the API key to send.' },
];

function parseListen(value: string, name = 'FORKD_LISTEN'): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new ForkdError('ERR_CONFIG', `${name} must be host:port (got ${JSON.stringify(value)})`, { field: name });
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ForkdError('ERR_CONFIG', `${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`, { field: name });
}

/** Host ids name queues and domains: keep them to a safe alphabet. */
export function sanitizeHostId(raw: string): string {
  const id = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48);
  return id || 'host';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ForkdConfig {
  const dataDir = resolve(env.FORKD_DATA_DIR || join(PACKAGE_ROOT, 'var'));
  const timeout = intVar(env, 'FORKD_JOB_TIMEOUT_MS', 120_000, 1000, Number.MAX_SAFE_INTEGER);
  const poolSize = intVar(env, 'FORKD_POOL_SIZE', 1, 0, 256);
  const stopTimeoutSec = intVar(env, 'FORKD_STOP_TIMEOUT_SEC', 50, 1, 3600);
  const reconcileIntervalMs = intVar(env, 'FORKD_RECONCILE_INTERVAL_MS', 30_000, 0, Number.MAX_SAFE_INTEGER);
  const orphanGraceMs = intVar(env, 'FORKD_RECONCILE_ORPHAN_GRACE_MS', 120_000, 0, Number.MAX_SAFE_INTEGER);
  const streamsPerTenant = intVar(env, 'FORKD_STREAMS_PER_TENANT', 16, 1, 100_000);
  const streamsPerHost = intVar(env, 'FORKD_STREAMS_PER_HOST', 256, 1, 100_000);
  const hostdJobConcurrency = intVar(env, 'FORKD_HOSTD_JOB_CONCURRENCY', 8, 1, 1024);
  const jobLockSec = intVar(env, 'FORKD_JOB_LOCK_SEC', 60, 2, 3600);
  const volumeMibPerTenant = intVar(env, 'FORKD_VOLUME_MIB_PER_TENANT', 65_536, 16, Number.MAX_SAFE_INTEGER);
  const eventsRetain = intVar(env, 'FORKD_EVENTS_RETAIN', 10_000, 100, 10_000_000);
  const hostIdRaw = env.FORKD_HOST_ID || hostname();
  const listen = parseListen(env.FORKD_LISTEN || '127.0.0.1:7700');
  if (env.FORKD_HOST_ID && sanitizeHostId(env.FORKD_HOST_ID) !== env.FORKD_HOST_ID) {
    throw new ForkdError('ERR_CONFIG', 'FORKD_HOST_ID may hold only a-z, 0-9 and -, at most 48 characters', { field: 'FORKD_HOST_ID' });
  }
  return {
    dataDir,
    listen,
    redisUrl: env.REDIS_URL || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    accel: oneOf('FORKD_ACCEL', env.FORKD_ACCEL || 'auto', ['auto', 'kvm', 'tcg'] as const),
    hostId: sanitizeHostId(hostIdRaw),
    libvirtUri: env.FORKD_LIBVIRT_URI || 'qemu:///system',
    logLevel: oneOf('FORKD_LOG_LEVEL', env.FORKD_LOG_LEVEL || 'info', ['debug', 'info', 'warn', 'error'] as const),
    jobTimeoutMs: timeout,
    poolSize,
    poolMode: oneOf('FORKD_POOL_MODE', env.FORKD_POOL_MODE || 'ready', ['shell', 'ready'] as const),
    tcgTbCacheMib: intVar(env, 'FORKD_TCG_TB_CACHE_MIB', 0, 0, 4096) || null,
    network: networkMode(env.FORKD_NETWORK),
    ksm: oneOf('FORKD_KSM', env.FORKD_KSM || 'leave', ['on', 'leave'] as const),
    imageLimits: {
      maxUnpackedBytes: intVar(env, 'FORKD_IMAGE_MAX_UNPACKED_BYTES', DEFAULT_IMAGE_MAX_UNPACKED_BYTES, 1, Number.MAX_SAFE_INTEGER),
      maxLayerFiles: intVar(env, 'FORKD_LAYER_MAX_FILES', DEFAULT_LAYER_MAX_FILES, 1, Number.MAX_SAFE_INTEGER),
      maxLayers: intVar(env, 'FORKD_IMAGE_MAX_LAYERS', DEFAULT_IMAGE_MAX_LAYERS, 1, IMAGE_MAX_LAYERS_CEILING),
    },
    stopTimeoutSec,
    reconcileIntervalMs,
    orphanGraceMs,
    secretKey: env.FORKD_SECRET_KEY ? parseSecretKey(env.FORKD_SECRET_KEY) : undefined,
    publishPortRange: parsePortRange('FORKD_PUBLISH_PORT_RANGE', env.FORKD_PUBLISH_PORT_RANGE || '1024-65535'),
    streamsPerTenant,
    streamsPerHost,
    hostdJobConcurrency,
    jobLockMs: jobLockSec * 1000,
    volumeMibPerTenant,
    dockerSocket: env.FORKD_DOCKER_SOCKET === 'off' ? null : resolve(env.FORKD_DOCKER_SOCKET || join(dataDir, 'docker.sock')),
    dockerListen: env.FORKD_DOCKER_LISTEN ? parseListen(env.FORKD_DOCKER_LISTEN, 'FORKD_DOCKER_LISTEN') : null,
    eventsRetain,
    forkReuseMs: intVar(env, 'FORKD_FORK_REUSE_SEC', 30, 0, 3600) * 1000,
    forkReuseMaxDirtyMib: intVar(env, 'FORKD_FORK_REUSE_MAX_DIRTY_MIB', 16, 0, 1_048_576),
    templateCacheDir: env.FORKD_TEMPLATE_CACHE_DIR ? resolve(env.FORKD_TEMPLATE_CACHE_DIR) : null,
    registryTimeoutMs: intVar(env, 'FORKD_REGISTRY_TIMEOUT_MS', 30_000, 100, 3_600_000),
    registryCaFile: env.FORKD_REGISTRY_CA_FILE ? resolve(env.FORKD_REGISTRY_CA_FILE) : undefined,
    desktop: {
      tokenTtlSec: intVar(env, 'FORKD_DESKTOP_TOKEN_TTL_SEC', 300, 5, 86_400),
      idleSec: intVar(env, 'FORKD_DESKTOP_IDLE_SEC', 1800, 0, 30 * 86_400),
      idleWarnSec: intVar(env, 'FORKD_DESKTOP_IDLE_WARN_SEC', 300, 0, 86_400),
      memoryMib: intVar(env, 'FORKD_DESKTOP_MEMORY_MIB', 384, 128, 65_536),
      poolSize: intVar(env, 'FORKD_DESKTOP_POOL_SIZE', 0, 0, 64),
    },
    dockerPod: {
      memoryMib: intVar(env, 'FORKD_DOCKER_POD_MEMORY_MIB', 512, 192, 65_536),
      vcpus: intVar(env, 'FORKD_DOCKER_POD_VCPUS', 1, 1, 16),
    },
    registryInsecure: (env.FORKD_REGISTRY_INSECURE ?? '').split(',').map((h) => h.trim()).filter((h) => h !== ''),
    apiUrl: (env.FORKD_URL || `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`).replace(/\/+$/, ''),
    blobCacheBytes: intVar(env, 'FORKD_BLOB_CACHE_MIB', 10_240, 1, 1024 * 1024 * 1024) * 1024 * 1024,
    hostDownMs: intVar(env, 'FORKD_HOST_DOWN_SEC', 20, 10, 86_400) * 1000,
  };
}

/**
 * A whole number from `min` to `max` (plain digits: no units, no exponent, no
 * fraction), or `fallback` when unset; ERR_CONFIG naming the variable otherwise.
 */
function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = /^[0-9]+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new ForkdError('ERR_CONFIG', `${name} must be a whole number ${range} (got ${JSON.stringify(raw)})`, { field: name });
  }
  return n;
}

/** `min-max` (inclusive, 1..65535, min ≤ max), or ERR_CONFIG naming the variable. */
export function parsePortRange(name: string, value: string): PortRange {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(value);
  const [min, max] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(min >= 1 && max <= 65535 && min <= max)) {
    throw new ForkdError('ERR_CONFIG', `${name} must be min-max with 1 ≤ min ≤ max ≤ 65535 (got ${JSON.stringify(value)})`, { field: name });
  }
  return { min, max };
}

/** FORKD_NETWORK. The old `user` and `default` modes are refused by name: both let guests reach the host. */
function networkMode(raw: string | undefined): NetworkMode {
  if (raw === 'user' || raw === 'default') {
    throw new ForkdError('ERR_CONFIG', `FORKD_NETWORK=${raw} was removed: it let every guest reach the host (QEMU user networking maps 10.0.2.2 to the host's loopback). Use \`tenant\` (the default) or \`none\`; see docs/networking.md`, { field: 'FORKD_NETWORK' });
  }
  return oneOf('FORKD_NETWORK', raw || 'tenant', ['tenant', 'none'] as const);
}

/** Paths inside the data directory, named once. */
export function dataPaths(dataDir: string) {
  return {
    adminKey: join(dataDir, 'admin.key'),
    secretKey: join(dataDir, 'secret.key'),
    redisSocket: join(dataDir, 'redis.sock'),
    redisDir: join(dataDir, 'redis'),
    sqlite: join(dataDir, 'forkd.db'),
    images: join(dataDir, 'images'),
    vms: join(dataDir, 'run', 'vms'),
    /** Tenant volumes' disks (`<volumeId>.img`), on the host that holds them. */
    volumes: join(dataDir, 'volumes'),
    hostState: join(dataDir, 'host'),
    /** hostd: live forks' RAM streams, each for the seconds between a parent's pause and its fork point's freezer (docs/fork.md). */
    forkStreams: join(dataDir, 'fork-streams'),
    bench: join(dataDir, 'bench'),
  };
}
