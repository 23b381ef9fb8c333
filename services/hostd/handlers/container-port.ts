// container.port: one TCP connection to a port on the guest's loopback (the
// agent's port.connect), carried over a relay session like an exec's stdio, so
// the API reaches a service in a container without anything published on the
// host and without sharing a machine with hostd (docs/streams.md). The
// desktop bridge uses it for Xvnc. `<session>:in` brings `stdin` (bytes to
// the socket), `stdin-end` (half-close) and `cancel`; `<session>:out` gets
// `stdout` (bytes from the socket), then `end` when the guest side closed.
import type { JobInput, JobOutput } from '../../contracts/jobs.js';
import { RelayWriter, sessionKeys, type OutKind } from '../../contracts/stream-relay.js';
import type { JobContext } from '../job-handlers.js';
import { pump, withRelay } from './container-io.js';
import { guest, vmFor, type ContainerDeps } from './guest.js';

export function containerPortHandler(deps: ContainerDeps) {
  return async (input: JobInput<'container.port'>, ctx: JobContext): Promise<JobOutput<'container.port'>> => {
    const keys = sessionKeys(input.session);
    const out = new RelayWriter<OutKind>(deps.redis, keys.out);
    return withRelay(deps, keys.in, out, ctx, async (cancel, onFrame) => {
      // The API checked that the container runs in this VM (its row); the VM is one container's (or a pod's) network namespace.
      const vm = vmFor(deps, input);
      const h = vm.agent.portConnect(input.port, { signal: cancel.signal });
      let bytesIn = 0;
      let bytesOut = 0;
      // Frames arrive in order; writes are chained so they reach the socket in order.
      let chain: Promise<void> = Promise.resolve();
      onFrame((f) => {
        if (f.kind === 'cancel') return cancel.abort();
        if (f.kind === 'stdin' && f.data.length > 0) {
          bytesIn += f.data.length;
          chain = chain.then(() => new Promise<void>((resolve) => void h.input.write(f.data, () => resolve())));
        } else if (f.kind === 'stdin-end') {
          chain = chain.then(() => void h.input.end());
        }
      });
      cancel.signal.addEventListener('abort', () => h.cancel(), { once: true });
      const pumping = pump(h.output, async (c) => { bytesOut += c.length; await out.write('stdout', c); });
      try {
        await guest(`port ${input.port} in container ${input.containerId}`, () => h.result);
        await pumping;
      } catch (err) {
        // The client went away (cancel) or hostd is draining: an ordinary end, not a failure. Nobody reads what is left.
        pumping.catch(() => undefined);
        if (!cancel.signal.aborted) throw err;
      }
      await out.write('end');
      return { bytesIn, bytesOut };
    // A connection has no end of its own: a draining hostd ends it at once.
    }, { endOnStop: true });
  };
}
