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

export const eventLoop = new EventLoop();

export type LifecycleListener = (event: LifecycleEvent) => void;
/** Stops a subscription; resolves once libvirt has dropped the callback. Safe to call twice. */
export type Unsubscribe = () => Promise<void>;

const listeners = new Map<number, LifecycleListener>();
let nextToken = 1;

const lifecyclePtr = lifecycleCallbackPointer((dom, eventCode, detailCode, token) => {
  const listener = listeners.get(token);
  if (listener === undefined) return;
  const id = domainIdentity(dom);
  if (id === null) return;
  const event: LifecycleEvent = {
    domainName: id.name,
    uuid: id.uuid,
    ...lifecycleNames(eventCode, detailCode),
    eventCode,
    detailCode,
  };
  setImmediate(() => {
    // Re-check: the subscriber may have gone between the copy and delivery.
    if (listeners.get(token) === listener) listener(event);
  });
});

/** Subscribe to lifecycle events of every domain on `conn`. Used by Connection.onLifecycle. */
export async function subscribeLifecycle(conn: Ptr, lane: Lane, listener: LifecycleListener): Promise<Unsubscribe> {
  const token = nextToken++;
  listeners.set(token, listener);
  const release = eventLoop.acquire();
  let callbackId: number;
  try {
    callbackId = await lane.call<number>(
      lv.virConnectDomainEventRegisterAny,
      [conn, null, VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecyclePtr, BigInt(token), null],
      { op: 'virConnectDomainEventRegisterAny', failed: isNegative },
    );
  } catch (err) {
    listeners.delete(token);
    release();
    throw err;
  }
  let done: Promise<void> | null = null;
  return () => {
    done ??= (async () => {
      listeners.delete(token);
      try {
        await lane.call<number>(lv.virConnectDomainEventDeregisterAny, [conn, callbackId], {
          op: 'virConnectDomainEventDeregisterAny',
          failed: isNegative,
        });
      } finally {
        release();
      }
    })();
    return done;
  };
}
