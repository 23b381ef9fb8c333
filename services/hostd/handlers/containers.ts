// The container jobs that are plain agent calls: inspect, start, wait, signal, stop, stats.
import { ForkdError } from '../../contracts/errors.js';
import type { ContainerRef, ContainerStartInput, ContainerStatus, JobInput, JobOutput } from '../../contracts/jobs.js';
import type { AgentClient } from '../agent/agent-client.js';
import type { JobContext } from '../job-handlers.js';
import { guest, inspect, vmFor, type ContainerDeps } from './guest.js';

/** How long stop waits for SIGKILL to take effect before reporting what it sees. */
const KILL_WAIT_MS = 30_000;

export function containerInspectHandler(deps: ContainerDeps) {
  return async (input: ContainerRef): Promise<ContainerStatus> => inspect(vmFor(deps, input).agent, input);
}

/** container.inspect for each of `containers`, side by side: one job per host for a listing instead of one per container. */
export function containerInspectManyHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.inspectMany'>): Promise<JobOutput<'container.inspectMany'>> => ({
    statuses: await Promise.all(input.containers.map(async (ref) => {
      try {
        return { containerId: ref.containerId, status: await inspect(vmFor(deps, ref).agent, ref) };
      } catch (err) {
        return { containerId: ref.containerId, status: null, error: (err as Error).message };
      }
    })),
  });
}

/** Starts a container created with `start: false`; one that already ran is reported as it is (the agent starts a container once). */
export function containerStartHandler(deps: ContainerDeps) {
  return async (input: ContainerStartInput): Promise<ContainerStatus> => {
    const vm = vmFor(deps, input);
    const before = await inspect(vm.agent, input);
    if (before.state !== 'created') return before;
    await guest(`starting container ${input.containerId}`, () => vm.agent.call('container.start', { id: input.containerId }));
    const who = { tenantId: input.tenantId, containerId: input.containerId, ...(input.name ? { name: input.name } : {}), ...(input.image ? { image: input.image } : {}) };
    await deps.events.publish({ type: 'container', action: 'start', tenantId: input.tenantId, actor: { id: input.containerId, ...(input.name ? { name: input.name } : {}), attributes: { ...(input.image ? { image: input.image } : {}), vmId: input.vmId } } });
    // After `start` was published, as in container.create: a quick exit's `die` comes after it.
    deps.exits.watch(vm, who);
    return inspect(vm.agent, input);
  };
}

export function containerWaitHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.wait'>, ctx: JobContext): Promise<ContainerStatus> => {
    const agent = vmFor(deps, input).agent;
    const status = await waitFor(agent, input, input.timeoutMs, ctx.signal);
    // An exit's `die` goes out before the wait answers: a client's removal after the wait must not publish `destroy` ahead of it.
    if (status.state === 'exited') await deps.exits.exitPublished(input.containerId);
    return status;
  };
}

export function containerSignalHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.signal'>): Promise<ContainerStatus> => {
    const agent = vmFor(deps, input).agent;
    await guest(`signalling container ${input.containerId}`, () => agent.call('container.kill', { id: input.containerId, signal: input.signal }));
    return inspect(agent, input);
  };
}

/** SIGTERM, up to graceSec for the container to exit, then SIGKILL. */
export function containerStopHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.stop'>, ctx: JobContext): Promise<ContainerStatus> => {
    const agent = vmFor(deps, input).agent;
    const before = await inspect(agent, input);
    if (before.state !== 'running') return before;
    await killIfRunning(agent, input, 'SIGTERM');
    const afterTerm = await waitFor(agent, input, Math.max(0, input.graceSec) * 1000, ctx.signal);
    if (afterTerm.state !== 'running') return afterTerm;
    ctx.log.info('container ignored SIGTERM; sending SIGKILL', { vm: input.vmId, container: input.containerId, graceSec: input.graceSec });
    await killIfRunning(agent, input, 'SIGKILL');
    return waitFor(agent, input, KILL_WAIT_MS, ctx.signal);
  };
}

export function containerStatsHandler(deps: ContainerDeps) {
  return async (input: ContainerRef): Promise<JobOutput<'container.stats'>> => {
    const agent = vmFor(deps, input).agent;
    const s = await guest(`stats of container ${input.containerId}`, () => agent.call('container.stats', { id: input.containerId }));
    return { memoryBytes: s.memory.currentBytes, memoryLimitBytes: s.memory.maxBytes, cpuUsec: s.cpu.usageUsec, pids: s.pids.current };
  };
}

/** Signals the container; one that exited meanwhile (the agent's ERR_CONFLICT) is not an error here. */
async function killIfRunning(agent: AgentClient, ref: ContainerRef, signal: string): Promise<void> {
  try {
    await guest(`sending ${signal} to container ${ref.containerId}`, () => agent.call('container.kill', { id: ref.containerId, signal }));
  } catch (err) {
    if (err instanceof ForkdError && err.detail?.['wireCode'] === 'ERR_CONFLICT') return;
    throw err;
  }
}

/** The status once the container exited, or after `timeoutMs` the status as it is then. */
async function waitFor(agent: AgentClient, ref: ContainerRef, timeoutMs: number, signal: AbortSignal): Promise<ContainerStatus> {
  const now = await inspect(agent, ref);
  if (now.state !== 'running' || timeoutMs <= 0) return now;
  try {
    const r = await guest(`waiting for container ${ref.containerId}`, () => agent.call('container.wait', { id: ref.containerId }, { timeoutMs, signal }));
    const after = await inspect(agent, ref);
    return { ...after, oomKilled: after.oomKilled || r.oomKilled, exitCode: after.exitCode ?? r.exitCode };
  } catch (err) {
    // The deadline passing (or hostd draining) is an answer, not a failure: report what is.
    if (err instanceof ForkdError && (err.code === 'ERR_GUEST_TIMEOUT' || err.detail?.['wireCode'] === 'ERR_CANCELLED')) return inspect(agent, ref);
    throw err;
  }
}
