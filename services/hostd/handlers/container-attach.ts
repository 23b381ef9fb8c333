// container.attach: the main process's stdio through a relay session, as exec
// does for its process: `<session>:out` gets stdout/stderr frames, then `exit`
// (when the process ended while attached) and `end`; `<session>:in` brings
// stdin, stdin-end (the half-close), resize and cancel. container.resize is
// the same resize as a plain job (POST /v1/containers/:id/resize).
import type { JobInput, JobOutput } from '../../contracts/jobs.js';
import { RelayWriter, sessionKeys, type OutKind } from '../../contracts/stream-relay.js';
import type { JobContext } from '../job-handlers.js';
import { relayProcess, resize, withRelay } from './container-io.js';
import { guest, vmFor, type ContainerDeps } from './guest.js';

export function containerAttachHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.attach'>, ctx: JobContext): Promise<JobOutput<'container.attach'>> => {
    const keys = sessionKeys(input.session);
    const out = new RelayWriter<OutKind>(deps.redis, keys.out);
    return withRelay(deps, keys.in, out, ctx, async (cancel, onFrame) => {
      const agent = vmFor(deps, input).agent;
      const h = agent.attach({ id: input.containerId, logs: input.logs, stream: input.stream, stdin: input.stdin }, { signal: cancel.signal });
      const result = await relayProcess('attach', input.containerId, h, out, cancel, onFrame, (data) => resize(agent, input.containerId, data));
      const exit = { exitCode: result.exited ? result.exitCode : null, signal: result.signal, oomKilled: result.oomKilled };
      if (exit.exitCode !== null) await out.write('exit', JSON.stringify(exit));
      await out.write('end');
      return exit;
    // Like a log follow, an attach has no end of its own while the container runs: a draining hostd ends it at once.
    }, { endOnStop: input.stream });
  };
}

export function containerResizeHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.resize'>): Promise<JobOutput<'container.resize'>> => {
    const agent = vmFor(deps, input).agent;
    await guest(`resizing the terminal of container ${input.containerId}`, () =>
      agent.call('container.resize', { id: input.containerId, ...(input.execId ? { execId: input.execId } : {}), rows: input.rows, cols: input.cols }));
    return {};
  };
}
