// The API's domain services, built once per process and shared by every HTTP
// front end: forkd's own /v1 server (server.ts) and the Docker Engine API
// (docker/). Both act through these, so a container made through one is the
// same row, rules and jobs through the other.
import type { Redis } from 'ioredis';
import { join } from 'node:path';
import { ImageStore } from '../../images/containers/image-store.js';
import { dataPaths, type ForkdConfig } from '../contracts/config.js';
import { EventPublisher } from '../contracts/events/index.js';
import { Registries } from './registries.js';
import { loadSecretKey } from '../contracts/secrets/index.js';
import { Containers } from './containers.js';
import type { PrismaClient } from './db/client.js';
import type { HostJobs } from './host-jobs.js';
import { Images } from './images.js';
import { KeyStore } from './key-store.js';
import { NetworkAddresses } from './networks/addresses.js';
import { Networks } from './networks/networks.js';
import { PodContainers } from './pods/pod-containers.js';
import { Pods } from './pods/pods.js';
import { PodForks } from './pods/pod-forks.js';
import { Operations, runnerId } from './operations/operations.js';
import { Placement } from './placement.js';
import { RedisLeaseStore } from './streams/lease-store.js';
import { StreamLimiter } from './streams/stream-limiter.js';
import { Templates } from './templates.js';
import { Tenancy } from './tenancy/tenancy.js';
import { Vms } from './vms.js';
import { Volumes } from './volumes/volumes.js';
import { Interactive } from './attach/interactive.js';

export interface ServiceDeps {
  config: ForkdConfig;
  db: PrismaClient;
  redis: Redis;
  hostJobs: HostJobs;
  /** Made here when absent. */
  operations?: Operations;
}

export interface ApiServices {
  config: ForkdConfig;
  db: PrismaClient;
  redis: Redis;
  hostJobs: HostJobs;
  tenancy: Tenancy;
  operations: Operations;
  images: Images;
  templates: Templates;
  networks: Networks;
  containers: Containers;
  vms: Vms;
  /** Several containers of a tenant in one VM (docs/pods.md). */
  pods: Pods;
  /** Named per-tenant disks (docs/volumes.md). */
  volumes: Volumes;
  /** Attach and interactive exec as functions (docs/interactive.md): the /v1 sockets and the Docker API both use them. */
  interactive: Interactive;
  keys: KeyStore;
  /** Caps concurrent streams per tenant and per host; every relay session holds one of its leases. */
  streams: StreamLimiter;
  /** Lifecycle events the API itself publishes (destroy, templates, images, networks; docs/operability.md). */
  events: EventPublisher;
  /** Where uploaded image archives are spooled before import. */
  uploadDir: string;
  /** Registry pull/push/tag and per-tenant registry logins (docs/images.md "Registries"). */
  registries: Registries;
  /** The installation's secret key: seals env, and host credentials are derived from it (contracts/host-credential.ts). */
  secretKey: Buffer;
}

export type Warn = (msg: string, fields?: Record<string, unknown>) => void;

export async function buildServices(deps: ServiceDeps, warn: Warn): Promise<ApiServices> {
  const log = { warn };
  const tenancy = new Tenancy(deps.db, deps.config.publishPortRange);
  const operations = deps.operations ?? new Operations(deps.db, log, runnerId(deps.config.listen.port));
  const events = new EventPublisher(deps.redis, { retain: deps.config.eventsRetain, warn });
  const images = new Images(deps.db, new ImageStore(deps.config.dataDir), events);
  const placement = new Placement(deps.db, deps.hostJobs);
  // FORKD_SECRET_KEY, else the data directory's secret.key (made here or by hostd, whichever starts first).
  const secretKey = await loadSecretKey({ keyFile: dataPaths(deps.config.dataDir).secretKey, configured: deps.config.secretKey });
  const templates = new Templates(deps.db, images, placement, deps.hostJobs, deps.config.poolSize, secretKey, operations, events);
  const networks = new Networks(deps.db, deps.hostJobs, log, events);
  const addresses = new NetworkAddresses(deps.db, placement, deps.hostJobs);
  const volumes = new Volumes(deps.db, placement, deps.hostJobs, { maxMibPerTenant: deps.config.volumeMibPerTenant }, log, events);
  const containers = new Containers(deps.db, images, networks, addresses, deps.hostJobs, templates, deps.config.jobTimeoutMs, secretKey, operations, log, volumes, events);
  const vms = new Vms(deps.db, templates, networks, addresses, deps.hostJobs, log, placement);
  const pods = new Pods(deps.db, templates, vms, networks, addresses, deps.hostJobs, operations, events);
  containers.pods = new PodContainers(deps.db, pods, containers, images, networks, deps.hostJobs, operations, events);
  pods.forks = new PodForks(deps.db, pods, containers, templates, addresses, deps.hostJobs, operations);
  const streams = new StreamLimiter(new RedisLeaseStore(deps.redis), {
    perTenant: deps.config.streamsPerTenant,
    perHost: deps.config.streamsPerHost,
    onRenewError: (err) => warn('could not renew a stream lease (it expires unless a later renewal succeeds)', { err: String(err) }),
  });
  const interactive = new Interactive({ containers, hostJobs: deps.hostJobs, redis: deps.redis, streams });
  return {
    config: deps.config, db: deps.db, redis: deps.redis, hostJobs: deps.hostJobs,
    tenancy, operations, images, templates, networks, containers, vms, pods, volumes, interactive, streams, events,
    keys: new KeyStore(deps.db),
    uploadDir: join(dataPaths(deps.config.dataDir).images, 'uploads'),
    secretKey,
    registries: new Registries(deps.db, images, secretKey, { limits: deps.config.imageLimits, timeoutMs: deps.config.registryTimeoutMs, caFile: deps.config.registryCaFile, insecure: deps.config.registryInsecure }),
  };
}
