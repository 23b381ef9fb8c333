// libvirt's default event loop, driven off the main thread, and domain
// lifecycle subscriptions on top of it.
//
// The loop is one `virEventRunDefaultImpl.async()` after another: each call
// blocks a libuv pool thread in poll() until a socket, keepalive timer or event
// is ready, so while the loop runs it holds ONE pool thread for good (see
// threadpool.ts: hostd must raise UV_THREADPOOL_SIZE). It runs only while
// someone needs it (a lifecycle subscription or a connection with keepalive)
// and is stopped by waking the poll (ffi.wakeEventLoop).
//
// Event callbacks run on that loop thread in C; koffi relays them to the main
// thread, where we only copy the event (name, UUID, numbers) and hand it to
// listeners on a later turn (setImmediate), so the loop thread is released at
// once and no listener code ever runs while libvirt waits on it.
import { callUnscoped, isNegative, type Lane } from './call.js';
import { domainIdentity, lifecycleCallbackPointer, lv, wakeEventLoop, type Ptr } from './ffi.js';
import { processSingleton } from './singleton.js';
import { lifecycleNames, type LifecycleEvent } from './types.js';

const VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0;

class EventLoop {
  private refs = 0;
  private spinning = false;
  private iterationCount = 0;
  private failures = 0;
  private idle: Promise<void> = Promise.resolve();

  /** Keep the loop running until the returned release function is called (idempotent). */
  acquire(): () => void {
    this.refs++;
    this.spin();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.refs--;
      if (this.refs === 0) wakeEventLoop();
    };
  }

  get stats(): { running: boolean; refs: number; iterations: number; failures: number } {
    return { running: this.spinning, refs: this.refs, iterations: this.iterationCount, failures: this.failures };
  }

  /** Resolves once the loop thread has been given back (no refs left and the last iteration returned). */
  whenIdle(): Promise<void> {
    return this.idle;
  }

  private spin(): void {
    if (this.spinning) return;
    this.spinning = true;
    this.idle = (async () => {
      while (this.refs > 0) {
        try {
          await callUnscoped<number>(lv.virEventRunDefaultImpl, [], { op: 'virEventRunDefaultImpl', failed: isNegative });
          this.iterationCount++;
        } catch {
          this.failures++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      this.spinning = false;
    })();
  }
}

/** The process's libvirt event loop. */
export const eventLoop: EventLoop = processSingleton('event-loop/1', () => new EventLoop());

export type LifecycleListener = (event: LifecycleEvent) => void;
/** Stops a subscription; resolves once libvirt has dropped the callback if it was the last. Safe to call twice. */
export type Unsubscribe = () => Promise<void>;

// libvirt accepts one registration of a given C callback per connection
// ("event callback already tracked"), so each connection registers once and
// fans out to its JS listeners here. Registration changes for a connection run
// one after another (`chain`), so a subscribe racing the last unsubscribe
// cannot end up with listeners but no libvirt registration.
interface ConnectionListeners {
  readonly listeners: Set<LifecycleListener>;
  callbackId: number | null;
  release: (() => void) | null;
  chain: Promise<unknown>;
}
const byConnection = processSingleton('lifecycle-listeners/1', () => new Map<number, ConnectionListeners>());

const lifecyclePtr = lifecycleCallbackPointer((dom, eventCode, detailCode, scope) => {
  const entry = byConnection.get(scope);
  if (entry === undefined || entry.listeners.size === 0) return;
  const id = domainIdentity(dom);
  if (id === null) return;
  const event: LifecycleEvent = {
    domainName: id.name,
    uuid: id.uuid,
    ...lifecycleNames(eventCode, detailCode),
    eventCode,
    detailCode,
  };
  for (const listener of entry.listeners) {
    setImmediate(() => {
      // Re-check: the listener may have unsubscribed between the copy and delivery.
      if (entry.listeners.has(listener)) listener(event);
    });
  }
});

function serialized<T>(entry: ConnectionListeners, step: () => Promise<T>): Promise<T> {
  const result = entry.chain.then(step, step);
  entry.chain = result.catch(() => {});
  return result;
}

/** Subscribe to lifecycle events of every domain on `conn`. Used by Connection.onLifecycle. */
export async function subscribeLifecycle(conn: Ptr, lane: Lane, listener: LifecycleListener): Promise<Unsubscribe> {
  let entry = byConnection.get(lane.scope);
  if (entry === undefined) {
    entry = { listeners: new Set(), callbackId: null, release: null, chain: Promise.resolve() };
    byConnection.set(lane.scope, entry);
  }
  const e = entry;
  // Each subscription gets its own identity, even for the same function.
  const own: LifecycleListener = (ev) => listener(ev);
  await serialized(e, async () => {
    if (e.callbackId === null) {
      const release = eventLoop.acquire();
      try {
        e.callbackId = await lane.call<number>(
          lv.virConnectDomainEventRegisterAny,
          [conn, null, VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecyclePtr, BigInt(lane.scope), null],
          { op: 'virConnectDomainEventRegisterAny', failed: isNegative },
        );
        e.release = release;
      } catch (err) {
        release();
        throw err;
      }
    }
    e.listeners.add(own);
    byConnection.set(lane.scope, e); // back in, if the last unsubscribe had dropped it
  });
  let done: Promise<void> | null = null;
  return () => {
    done ??= serialized(e, async () => {
      e.listeners.delete(own);
      if (e.listeners.size > 0 || e.callbackId === null) return;
      const callbackId = e.callbackId;
      e.callbackId = null;
      try {
        await lane.call<number>(lv.virConnectDomainEventDeregisterAny, [conn, callbackId], {
          op: 'virConnectDomainEventDeregisterAny',
          failed: isNegative,
        });
      } finally {
        e.release?.();
        e.release = null;
        if (e.listeners.size === 0 && byConnection.get(lane.scope) === e) byConnection.delete(lane.scope);
      }
    });
    return done;
  };
}
