// What the container handlers share: reaching the VM's agent, mapping the
// agent's container summary onto the job contract's status, and turning the
// agent's "not found" into forkd's ERR_NOT_FOUND.
import type { CreatesInFlight } from './creates-in-flight.js';
import type { BlobCache } from '../blobs/blob-cache.js';
import type { HostImage, HostLayer } from '../agent/agent-client.js';
import type { Redis } from 'ioredis';
import type { ContainerSummary, Params } from '../../contracts/agent-protocol/index.js';
import { ForkdError } from '../../contracts/errors.js';
import type { ContainerRef, ContainerStatus, JobImage } from '../../contracts/jobs.js';
import type { EventPublisher } from '../../contracts/events/index.js';
import type { Logger } from '../../contracts/logger.js';
import type { AgentClient } from '../agent/agent-client.js';
import type { ExitWatcher } from '../events/exit-watcher.js';
import type { PortPublisher } from '../ports/port-publisher.js';
import type { ManagedVm, VmManager } from '../vm/vm-manager.js';

export interface ContainerDeps {
  vms: VmManager;
  ports: PortPublisher;
  /** For exec/log byte relays (stream-relay.ts); readers duplicate it. */
  redis: Redis;
  log: Logger;
  /** Opens the env sealed in container.create and container.exec payloads (secrets/env.ts). */
  secretKey: Buffer;
  /** Lifecycle events (create, start; vm create/destroy) go here. */
  events: EventPublisher;
  /** Turns each started container's exit into its `die` event. */
  exits: ExitWatcher;
  /** Finds (or fetches) the layers a guest lacks; absent: the job's layer paths are read (docs/multi-host.md). */
  blobs?: BlobCache;
  /** The creates running here: a log stream opened during one waits for it (container.logs `afterCreate`). */
  creates?: CreatesInFlight;
}

/** A job's image as the agent client imports it: layers found through `blobs` for `user` (a VM or template id) when given. */
export function hostImage(image: JobImage, blobs: BlobCache | undefined, user: string): HostImage {
  return {
    id: image.id,
    config: agentImageConfig(image),
    layers: image.layers,
    ...(blobs ? { resolveLayer: (l: HostLayer) => blobs.layer(l, user) } : {}),
  };
}

/** Runs an agent call; the agent's ERR_NOT_FOUND (container or image unknown) becomes forkd's. */
export async function guest<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ForkdError && err.detail?.['wireCode'] === 'ERR_NOT_FOUND') {
      throw new ForkdError('ERR_NOT_FOUND', `${what}: ${err.message}`, { detail: err.detail, cause: err });
    }
    throw err;
  }
}

export function toStatus(c: ContainerSummary): ContainerStatus {
  return {
    state: c.status,
    exitCode: c.exitCode,
    oomKilled: c.oomKilled,
    startedAt: c.startedAt === null ? null : new Date(c.startedAt).toISOString(),
    finishedAt: c.finishedAt === null ? null : new Date(c.finishedAt).toISOString(),
  };
}

/** The container's summary from the agent, or null when the agent does not know it. */
export async function findContainer(agent: AgentClient, containerId: string): Promise<ContainerSummary | null> {
  const { containers } = await agent.call('container.list', {});
  return containers.find((c) => c.id === containerId) ?? null;
}

export async function inspect(agent: AgentClient, ref: ContainerRef): Promise<ContainerStatus> {
  const c = await findContainer(agent, ref.containerId);
  if (!c) throw new ForkdError('ERR_NOT_FOUND', `no container ${ref.containerId} in VM ${ref.vmId}`, { detail: { ...ref } });
  return toStatus(c);
}

/** The VM and its agent for a container job; ERR_NOT_FOUND for an unknown VM. */
export function vmFor(deps: ContainerDeps, ref: ContainerRef): ManagedVm {
  return deps.vms.get(ref.vmId);
}

/** The image config as the agent's image.import takes it (only the fields it knows, none empty). */
export function agentImageConfig(image: JobImage): Params<'image.import'>['config'] {
  const c = image.config;
  return {
    ...(c.Env ? { Env: c.Env } : {}),
    ...(c.Cmd ? { Cmd: c.Cmd } : {}),
    ...(c.Entrypoint ? { Entrypoint: c.Entrypoint } : {}),
    ...(c.WorkingDir ? { WorkingDir: c.WorkingDir } : {}),
    ...(c.User ? { User: c.User } : {}),
  };
}
