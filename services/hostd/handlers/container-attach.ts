// container.attach: the main process's stdio through a relay session, as exec
// does for its process: `<session>:out` gets stdout/stderr frames, then `exit`
// (when the process ended while attached) and `end`; `<session>:in` brings
// stdin, stdin-end (the half-close), resize and cancel. container.resize is
// the same resize as a plain job (POST /v1/containers/:id/resize).
import { ForkdError } from '../../contracts/errors.js';
import type { JobInput, JobOutput } from '../../contracts/jobs.js';
import { RelayWriter, sessionKeys, type OutKind } from '../../contracts/stream-relay.js';
import type { JobContext } from '../job-handlers.js';
import { pump, resize, withRelay } from './container-io.js';
import { guest, vmFor, type ContainerDeps } from './guest.js';

export function containerAttachHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.attach'>, ctx: JobContext): Promise<JobOutput<'container.attach'>> => {
    const keys = sessionKeys(input.session);
    const out = new RelayWriter<OutKind>(deps.redis, keys.out);
    return withRelay(deps, keys.in, out, ctx, async (cancel, onFrame) => {
      const agent = vmFor(deps, input).agent;
      const h = agent.attach({ id: input.containerId, logs: input.logs, stream: input.stream, stdin: input.stdin }, { signal: cancel.signal });
      let stdinChain: Promise<void> = Promise.resolve();
      onFrame((f) => {
        if (f.kind === 'cancel') return cancel.abort();
        if (f.kind === 'resize') return void resize(agent, input.containerId, f.data);
        const stdin = h.stdin;
        if (!stdin) return;
        if (f.kind === 'stdin' && f.data.length > 0) {
          stdinChain = stdinChain.then(() => new Promise<void>((resolve) => void stdin.write(f.data, () => resolve())));
        } else if (f.kind === 'stdin-end') {
          stdinChain = stdinChain.then(() => void stdin.end());
        }
      });
      const pumps = Promise.all([pump(h.stdout, (c) => out.write('stdout', c)), pump(h.stderr, (c) => out.write('stderr', c))]);
      let result;
      try {
        result = await guest(`attach to container ${input.containerId}`, () => h.result);
      } catch (err) {
        if (cancel.signal.aborted) throw new ForkdError('ERR_GUEST', 'attach cancelled (by the client, or hostd is shutting down)', { detail: { wireCode: 'ERR_CANCELLED' } });
        throw err;
      }
      await pumps;
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
