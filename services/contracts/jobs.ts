// The contract between the API and hostd: which jobs exist, what each takes and
// returns, and how queues and the host registry are named in Redis. Both sides
// import this file and nothing else of each other.
import type { Accel } from './config.js';
import type { ErrorBody } from './errors.js';
import type { HostContainerState, HostTemplateState, HostVmState } from './lifecycle/index.js';
import type { SealedEnv } from './secrets/env.js';
import type { PodJobSpecs } from './pod-jobs.js';

/** One BullMQ queue per host. BullMQ reserves ':' in queue names, so '-' it is. */
export function hostQueueName(hostId: string): string {
  return `forkd-host-${hostId}`;
}

/**
 * A second queue per host for streams (logs, exec): jobs that live as long as
 * a client reads, up to days. hostd runs them on a worker of their own, so they
 * never take the slots that creates, stops and builds need; the API caps how
 * many a tenant and a host may hold (services/api/streams/).
 */
export function hostStreamQueueName(hostId: string): string {
  return `forkd-host-${hostId}-streams`;
}

/** The jobs that run on the stream queue. Every other job runs on the host's job queue. */
export const STREAM_JOBS = ['container.logs', 'container.exec', 'container.attach', 'container.port'] as const satisfies readonly JobName[];
export type StreamJobName = (typeof STREAM_JOBS)[number];

export function isStreamJob(name: JobName): name is StreamJobName {
  return (STREAM_JOBS as readonly JobName[]).includes(name);
}

/** The queue a job goes to on `hostId`. */
export function queueNameFor(hostId: string, name: JobName): string {
  return isStreamJob(name) ? hostStreamQueueName(hostId) : hostQueueName(hostId);
}

/** Redis hash: hostId → JSON HostAnnouncement, refreshed by each hostd. */
export const HOST_REGISTRY_KEY = 'forkd:hosts';
export const HOST_HEARTBEAT_MS = 5_000;
/** A host not seen for this long is reported `down` and gets no new work. */
export const HOST_STALE_MS = 20_000;

export interface HostAnnouncement {
  hostId: string;
  hostname: string;
  pid: number;
  startedAt: string;
  lastSeenAt: string;
  accel: Accel;
  draining: boolean;
  /**
   * What placement needs, read each heartbeat without libvirt (so a hostd whose
   * libvirt calls are busy still reports it). Absent from a hostd older than
   * this field: placement then asks it `host.info`.
   */
  facts?: HostFacts;
}

/** A host's versions and capacity as its heartbeat carries them (free memory: the kernel's MemAvailable). */
export interface HostFacts {
  libvirtVersion: string;
  qemuVersion: string;
  capacity: { cpus: number; memoryMib: number; freeMemoryMib: number };
}

export interface HostInfo {
  hostId: string;
  hostname: string;
  forkdVersion: string;
  accel: Accel;
  /** Why this accelerator: `override`, `probe`, `cached probe`, or `no /dev/kvm`. */
  accelReason: string;
  libvirtVersion: string;
  qemuVersion: string;
  capacity: { cpus: number; memoryMib: number; freeMemoryMib: number };
  vms: { running: number; total: number };
  /** Kernel same-page merging, where the host has it (reported only; nothing depends on it). */
  ksm: { available: boolean; running: boolean; pagesSharing: number; pagesShared: number };
}

/** A container image as hostd needs it: config plus layer tars in the shared image store. */
export interface JobImage {
  id: string;
  config: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string };
  layers: Array<{ diffId: string; size: number; path: string }>;
}

export interface ContainerSpec {
  /** The full argv (entrypoint + cmd already resolved by the API). */
  command: string[];
  env: string[];
  workingDir?: string;
  user?: string;
  limits: { memoryMib?: number; cpus?: number; pids?: number };
  /** A terminal for the main process, and its first size (docs/interactive.md). */
  tty?: boolean;
  /** The main process's stdin stays open for attached clients. */
  openStdin?: boolean;
  rows?: number;
  cols?: number;
}

/** How an attached main process ended; exitCode null when it had not (stream false, or still running). */
export interface AttachExit {
  exitCode: number | null;
  signal: string | null;
  oomKilled: boolean;
}

/** A ContainerSpec as job payloads carry it: env sealed (hostd opens it just before the agent call). */
export type SealedContainerSpec = Omit<ContainerSpec, 'env'> & { env: SealedEnv };

/**
 * A VM's place on one tenant network. The API owns networks and their
 * addresses (IPAM in the database); hostd owns how a network exists on its
 * host (a network namespace with a bridge, see services/hostd/network/) and
 * attaches the VM's NIC to it. Networks are per tenant: two tenants may both
 * have `app` on 10.89.1.0/24, and hostd keeps them apart by networkId.
 */
export interface NetworkAttachment {
  /** The Network row's id; hostd names the network's namespace after it. */
  networkId: string;
  tenantId: string;
  /** The network's name, for logs and errors. */
  name: string;
  /** IPv4 CIDR, aligned ('10.89.0.0/24'). */
  subnet: string;
  /** The gateway address inside the subnet (its first host, '10.89.0.1'). */
  gateway: string;
  /** This VM's address (no prefix), picked by the API's IPAM. */
  address: string;
  /** true: no route out of the network (no uplink, no NAT). */
  internal: boolean;
  /** Names this VM answers to for its peers on the network (container name, hostname). */
  aliases: string[];
}

/**
 * Host addresses forkd reserves for the links between a network's namespace
 * and the host (a /30 per non-internal network). Tenant subnets may not
 * overlap it: the namespace routes both.
 */
export const NETWORK_TRANSIT_CIDR = '100.127.0.0/16';

/** A port to publish: on the host's hostIp (default 127.0.0.1), hostPort (absent or 0: pick one). TCP only. */
export interface PortRequest {
  containerPort: number;
  hostPort?: number;
  hostIp?: string;
}

/**
 * A tenant volume to attach to a container's VM (services/hostd/volumes/):
 * hostd hot-plugs its disk as virtio-blk, the agent mounts it (ext4) and
 * bind-mounts it into the container at `path`. The API took the volume's
 * one-writer claim for this container before sending it.
 */
export interface VolumeMount {
  volumeId: string;
  /** The volume's name, for logs and errors. */
  name: string;
  /** Absolute path inside the container. */
  path: string;
  readOnly: boolean;
}

/** Bounds on a volume's size (MiB), shared by the API's validation and hostd's check. */
export const VOLUME_SIZE_MIB = { min: 16, max: 1024 * 1024 } as const;
/** How many volumes one container may mount (each takes one PCI slot of its VM). */
export const MAX_VOLUMES_PER_CONTAINER = 8;

/** 'pool' is a fork whose QEMU shell was already waiting in the warm pool. */
export type BootMode = 'cold' | 'fork' | 'pool';

export interface ContainerCreateInput {
  tenantId: string;
  vmId: string;
  containerId: string;
  boot: BootMode;
  vm: { vcpus: number; memoryMib: number };
  image: JobImage;
  /** env sealed for this containerId (secrets/env.ts): job data sits in Redis for up to a day, so values never travel in the clear. */
  spec: SealedContainerSpec;
  /** Container ports to publish on the host (hostIp default 127.0.0.1; hostPort 0 or absent: pick one). A port taken: ERR_CONFLICT, field `ports`. */
  ports: PortRequest[];
  /** The tenant network the VM's NIC joins. Absent: the NIC stays detached (no network at all). */
  network?: NetworkAttachment;
  /** Volumes attached to the VM (hot-plugged, also into a fork or a warm-pool VM) and mounted into the container. */
  volumes?: VolumeMount[];
  /** With boot 'fork': the template to fork from (built for this image and size; the image is already in it). */
  templateId?: string;
  /** false: the container is created but not started (`docker create`, and `docker run`, which starts after attaching); `container.start` starts it. Default true. */
  start?: boolean;
  /** The container's name, for the events hostd publishes about it. */
  name?: string;
}

export interface TemplateBuildInput {
  templateId: string;
  /** null: the bare guest (agent only). Otherwise imported into the template before the snapshot. */
  image: JobImage | null;
  vcpus: number;
  memoryMib: number;
  /** Warm clone shells to keep waiting in `-incoming defer`. */
  poolSize: number;
  /** An app template: these containers are created and started before the snapshot, so forks start with them running. */
  /** env sealed for appContainerSubject(templateId, containerId) (secrets/env.ts). */
  containers: Array<{ containerId: string; spec: SealedContainerSpec }>;
}

export interface PoolStatus {
  target: number;
  ready: number;
  starting: number;
}

export interface TemplateFacts {
  templateId: string;
  accel: Accel;
  qemuVersion: string;
  machineType: string;
  formatVersion: number;
  files: { memory: { bytes: number }; state: { bytes: number }; disk: { bytes: number } };
  buildMs: number;
  pool: PoolStatus;
}

export interface TemplateStatus {
  templateId: string;
  /** 'ready', or why not: 'missing' (no files on this host), 'stale' (host changed), 'corrupt'. */
  state: HostTemplateState;
  reason: string | null;
  pool: PoolStatus;
}

export interface VmFacts {
  vmId: string;
  domainName: string;
  accel: Accel;
  boot: BootMode;
  /** Request to agent-ready, and its parts. */
  timings: Record<string, number>;
}

export interface ContainerStatus {
  state: HostContainerState;
  exitCode: number | null;
  oomKilled: boolean;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface PublishedPort {
  containerPort: number;
  hostAddress: string;
  hostPort: number;
}

export interface ContainerRef {
  vmId: string;
  containerId: string;
}

/** Who the container is, for the `start` event hostd publishes and the exit watch it begins (docs/operability.md). */
export interface ContainerStartInput extends ContainerRef {
  tenantId: string;
  name?: string;
  /** The image's digest. */
  image?: string;
}

/** One child of a live fork: a new VM running the parent's container under a new id. */
export interface ForkChild {
  vmId: string;
  containerId: string;
  name?: string;
  /** The tenant network the child's NIC joins (its own address); absent: detached. */
  network?: NetworkAttachment;
}

export interface ContainerForkInput {
  tenantId: string;
  /** Fork this running container (a fork point is captured now). */
  parent?: ContainerRef;
  /** Or fork a snapshot template: its guest runs the container as `guestContainerId`. Exactly one of the two. */
  template?: { templateId: string; guestContainerId: string };
  children: ForkChild[];
  /** The parent's published ports, published again for each child on new host ports (hostPort 0). */
  ports: PortRequest[];
  /** Capture the parent now even when its last fork point could be reused (docs/fork.md "Forking the same parent again"). */
  fresh?: boolean;
}

export interface ContainerForkOutput {
  /** How long the parent was paused, and the fork point's other costs (ms). */
  forkPoint: {
    templateId: string;
    timings: Record<string, number>;
    streamBytes: number;
    /** The parent's last fork point was reused (nothing paused or written): the children are the parent as it was at `takenAt`. */
    reused?: boolean;
    /** When the parent was paused for this fork point (ISO-8601). */
    takenAt?: string;
    /** Why a fork of a running parent did not reuse its last fork point (absent when it did, or for a snapshot). */
    reuseSkipped?: string;
  };
  children: Array<{ vmId: string; containerId: string; vm: VmFacts; ports: PublishedPort[] }>;
}

/** Every job: its input and what hostd returns. New jobs are added here first. */
export interface JobSpecs extends PodJobSpecs {
  'host.info': { input: Record<string, never>; output: HostInfo };
  /** Make a VM (cold boot or fork), put the image in it, create and (unless `start: false`) start the container. */
  'container.create': { input: ContainerCreateInput; output: { vm: VmFacts; status: ContainerStatus; ports: PublishedPort[] } };
  'container.inspect': { input: ContainerRef; output: ContainerStatus };
  /** Many containers of one host in one job (`forkd ps`); a container this host cannot inspect has `status: null` and why. */
  'container.inspectMany': { input: { containers: ContainerRef[] }; output: { statuses: Array<{ containerId: string; status: ContainerStatus | null; error?: string }> } };
  /** Starts a container made with `start: false`; one already started is reported as it is. */
  'container.start': { input: ContainerStartInput; output: ContainerStatus };
  /** Resolves when the container exits, or after timeoutMs with its current status. */
  'container.wait': { input: ContainerRef & { timeoutMs: number }; output: ContainerStatus };
  'container.signal': { input: ContainerRef & { signal: string }; output: ContainerStatus };
  /** SIGTERM, then SIGKILL after graceSec. */
  'container.stop': { input: ContainerRef & { graceSec: number }; output: ContainerStatus };
  /**
   * Streams the log into the relay session `session` (see stream-relay.ts) until
   * done or cancelled. `afterCreate`: the container is still being created (the
   * stream was opened right after the POST); hostd waits for its create first.
   */
  'container.logs': { input: ContainerRef & { session: string; follow: boolean; tail?: number; afterCreate?: boolean }; output: { lines: number } };
  /** Runs a command in the container with stdio through relay session `session`. */
  'container.exec': {
    input: ContainerRef & { session: string; command: string[]; env?: SealedEnv; workingDir?: string; user?: string; stdin: boolean; tty?: boolean; execId?: string; rows?: number; cols?: number };
    output: { exitCode: number };
  };
  /** The main process's stdio through relay session `session`: replayed output (`logs`), live output (`stream`), stdin (`stdin`), resizes. */
  'container.attach': { input: ContainerRef & { session: string; logs: boolean; stream: boolean; stdin: boolean }; output: AttachExit };
  /** One TCP connection to `port` on the guest's loopback (agent port.connect), its bytes through relay session `session` (stdin/stdout frames); nothing is published on the host. */
  'container.port': { input: ContainerRef & { session: string; port: number }; output: { bytesIn: number; bytesOut: number } };
  /** Sets the size of the container's terminal, or of tty exec `execId`. */
  'container.resize': { input: ContainerRef & { execId?: string; rows: number; cols: number }; output: Record<string, never> };
  'container.stats': { input: ContainerRef; output: { memoryBytes: number; memoryLimitBytes: number | null; cpuUsec: number; pids: number } };
  /** Destroys the VM and its disk (and the container in it). Idempotent. */
  'vm.destroy': { input: { vmId: string }; output: { destroyed: boolean } };
  /** Boot a template VM, prepare it, snapshot it (device state + RAM file + frozen disk). Idempotent per templateId. */
  'template.build': { input: TemplateBuildInput; output: TemplateFacts };
  'template.status': { input: { templateId: string }; output: TemplateStatus };
  /** Resize the warm pool (0 drains it). */
  'template.pool': { input: { templateId: string; size: number }; output: TemplateStatus };
  /** Drains the pool and deletes the files. The API refuses this while VMs use the template. */
  'template.delete': { input: { templateId: string }; output: { deleted: boolean } };
  /** A VM forked from a template (from the warm pool when it has one ready), agent ready, identity given. */
  'vm.fork': { input: { vmId: string; templateId: string; usePool: boolean; network?: NetworkAttachment }; output: VmFacts };
  /** Makes the volume's disk (a sparse file formatted ext4). Idempotent: an existing disk is kept. */
  'volume.create': { input: { volumeId: string; sizeMib: number }; output: { created: boolean } };
  /** Deletes the volume's disk; ERR_CONFLICT while a VM on this host has it attached. Idempotent. */
  'volume.delete': { input: { volumeId: string }; output: { deleted: boolean } };
  /** Removes the network's namespace, bridge and uplink from this host (the API refuses while VMs use it). Idempotent. */
  'network.remove': { input: { networkId: string }; output: { removed: boolean } };
  /** Forks a running container's VM into new VMs (services/hostd/live-fork/, docs/fork.md "Forking a running container"). All or nothing. */
  'container.fork': { input: ContainerForkInput; output: ContainerForkOutput };
  /** Freezes a running container's VM into template `templateId` (a fork point kept as a template). */
  'container.snapshot': { input: { parent: ContainerRef; templateId: string }; output: { template: TemplateFacts; pauseMs: number; guestContainerId: string } };
  /**
   * The VMs this host runs, for reconciliation with the database: those in
   * hostd's own records that reached `running` (a create in flight is not
   * listed). `running`: libvirt still runs the domain.
   */
  'vm.list': { input: Record<string, never>; output: { vms: Array<{ vmId: string; domainName: string; running: boolean; state: HostVmState }> } };
}

export type JobName = keyof JobSpecs;
export type JobInput<N extends JobName> = JobSpecs[N]['input'];
export type JobOutput<N extends JobName> = JobSpecs[N]['output'];

/**
 * A job that fails throws an Error whose message is this prefix + a JSON
 * ErrorBody, so the API can rebuild the exact ForkdError (code, field, detail)
 * from BullMQ's `failedReason` string.
 */
export const JOB_ERROR_PREFIX = 'forkd-error:';

export function encodeJobError(body: ErrorBody): string {
  return JOB_ERROR_PREFIX + JSON.stringify(body);
}

export function decodeJobError(reason: string | undefined): ErrorBody | undefined {
  if (!reason?.startsWith(JOB_ERROR_PREFIX)) return undefined;
  try {
    const body = JSON.parse(reason.slice(JOB_ERROR_PREFIX.length)) as ErrorBody;
    return typeof body?.error?.code === 'string' && typeof body.error.message === 'string' ? body : undefined;
  } catch {
    return undefined;
  }
}
