// A forked child runs its parent's container *inside* the guest under the
// parent's id (crun's state and the agent's records carry it), while the API
// knows the child's container by a new id. Renaming inside the guest would
// need crun to move a live container's state; instead hostd translates at the
// one boundary every container job crosses: the VM's agent client. Calls that
// name the child's id reach the guest with the parent's, and container.list
// answers with the child's, so the container handlers need no change.
import type { AgentClient } from '../agent/agent-client.js';

type Translate = (id: string) => string;

function withId<T>(params: T, map: Translate): T {
  const p = params as unknown as { id?: unknown } | null;
  if (p && typeof p === 'object' && typeof p.id === 'string') return { ...p, id: map(p.id) } as unknown as T;
  return params;
}

/** The agent client of a VM whose guest knows container `guestId` as `apiId`. Other ids pass unchanged. */
export function aliasContainer(agent: AgentClient, apiId: string, guestId: string): AgentClient {
  if (apiId === guestId) return agent;
  const toGuest: Translate = (id) => (id === apiId ? guestId : id);
  const toApi: Translate = (id) => (id === guestId ? apiId : id);
  return new Proxy(agent, {
    get(target, prop, receiver) {
      if (prop === 'call') {
        return async (method: string, params: unknown, opts?: unknown) => {
          const result = await (target.call as (m: string, p: unknown, o?: unknown) => Promise<unknown>).call(target, method, withId(params, toGuest), opts);
          if (method === 'container.list') {
            const r = result as { containers: Array<{ id: string }> };
            return { ...r, containers: r.containers.map((c) => withId(c, toApi)) };
          }
          if (!method.startsWith('container.')) return result;
          // container.start's answer also carries the container's summary.
          const r = withId(result, toApi) as { container?: { id: string } } | null;
          return r && typeof r === 'object' && r.container ? { ...r, container: withId(r.container, toApi) } : r;
        };
      }
      if (prop === 'exec' || prop === 'attach' || prop === 'logs') {
        const fn = Reflect.get(target, prop, target) as (p: unknown, o?: unknown) => unknown;
        return (params: unknown, opts?: unknown) => fn.call(target, withId(params, toGuest), opts);
      }
      const v: unknown = Reflect.get(target, prop, receiver === target ? target : target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
