// Connection: one virConnectPtr, opened and used off the main thread. Its
// calls, and those of the Domains obtained from it, run one at a time in the
// order made (call.ts says why); open one Connection per concurrent job.
import { isNegative, isNull, newConnectionLane, openLane, type Lane } from './call.js';
import { Domain } from './domain.js';
import { ErrorCode, LibvirtError, freedHandleError } from './errors.js';
import { eventLoop, subscribeLifecycle, type LifecycleListener, type Unsubscribe } from './events.js';
import {
  attachConnectionErrorHandler,
  lv,
  takePointerArray,
  takeString,
  type LibvirtFunction,
  type Ptr,
  type RawNodeInfo,
} from './ffi.js';
import { decodeVersion, type NodeInfo, type Version } from './types.js';

export const DEFAULT_URI = 'qemu:///system';

export interface KeepAlive {
  /** Seconds between keepalive probes. */
  intervalSeconds: number;
  /** Unanswered probes after which libvirt closes the connection. */
  count: number;
}

export interface OpenOptions {
  /**
   * virConnectSetKeepAlive settings, or `false` for none. With keepalive a dead
   * daemon is noticed even while idle, and the event loop (one pool thread)
   * runs for as long as the connection is open. Default: 5 s x 5.
   */
  keepAlive?: KeepAlive | false;
}

export interface DomainCapabilitiesQuery {
  emulator?: string | null;
  arch?: string | null;
  machine?: string | null;
  /** e.g. 'kvm' or 'qemu'. */
  virtType?: string | null;
}

// What a forgotten Connection still holds: its handle and its keepalive's hold
// on the event loop. Must not reference the Connection itself.
interface Held {
  ptr: Ptr;
  releaseLoop: (() => void) | null;
}

const finalizer = new FinalizationRegistry<Held>((held) => {
  held.releaseLoop?.();
  lv.virConnectClose.async(held.ptr, () => {});
});

export class Connection {
  readonly uri: string;
  #ptr: Ptr | null;
  readonly #lane: Lane;
  readonly #held: Held;
  readonly #subscriptions = new Set<Unsubscribe>();

  private constructor(uri: string, ptr: Ptr, lane: Lane) {
    this.uri = uri;
    this.#ptr = ptr;
    this.#lane = lane;
    this.#held = { ptr, releaseLoop: null };
    finalizer.register(this, this.#held, this);
  }

  /** Open a read-write connection (virConnectOpen). Failures have `isConnectionFailure` set. */
  static async open(uri: string = DEFAULT_URI, opts: OpenOptions = {}): Promise<Connection> {
    const ptr = await openLane.call<Ptr | null>(lv.virConnectOpen, [uri], {
      op: 'virConnectOpen',
      failed: isNull,
      duringOpen: true,
    });
    const lane = newConnectionLane();
    attachConnectionErrorHandler(ptr!, lane.scope);
    const conn = new Connection(uri, ptr!, lane);
    const keepAlive = opts.keepAlive ?? { intervalSeconds: 5, count: 5 };
    if (keepAlive !== false) {
      try {
        await conn.#setKeepAlive(keepAlive);
      } catch (err) {
        await conn.close().catch(() => {});
        throw err;
      }
    }
    return conn;
  }

  get closed(): boolean {
    return this.#ptr === null;
  }

  /**
   * Drop lifecycle subscriptions, stop keepalive and release the connection
   * (virConnectClose). Domains obtained from it stay usable until freed
   * (libvirt keeps the underlying connection alive for them). Idempotent.
   */
  async close(): Promise<void> {
    const ptr = this.#ptr;
    if (ptr === null) return;
    const subscriptions = [...this.#subscriptions];
    this.#subscriptions.clear();
    await Promise.allSettled(subscriptions.map((unsubscribe) => unsubscribe()));
    this.#ptr = null;
    finalizer.unregister(this);
    this.#held.releaseLoop?.();
    this.#held.releaseLoop = null;
    await this.#lane.call<number>(lv.virConnectClose, [ptr], { op: 'virConnectClose', failed: isNegative });
  }

  /** Hypervisor version, e.g. QEMU 7.2.x (virConnectGetVersion). */
  async getVersion(): Promise<Version> {
    const out: number[] = [0];
    await this.#int('virConnectGetVersion', lv.virConnectGetVersion, [out]);
    return decodeVersion(Number(out[0]));
  }

  /** Version of the libvirt library on the daemon side of this connection (virConnectGetLibVersion). */
  async getLibVersion(): Promise<Version> {
    const out: number[] = [0];
    await this.#int('virConnectGetLibVersion', lv.virConnectGetLibVersion, [out]);
    return decodeVersion(Number(out[0]));
  }

  /** Host capabilities XML. */
  async getCapabilities(): Promise<string> {
    return (await this.#string('virConnectGetCapabilities', lv.virConnectGetCapabilities, []))!;
  }

  /** Domain capabilities XML for an emulator/arch/machine/virt type (nulls: libvirt's defaults). */
  async getDomainCapabilities(query: DomainCapabilitiesQuery = {}, flags = 0): Promise<string> {
    const args = [query.emulator ?? null, query.arch ?? null, query.machine ?? null, query.virtType ?? null, flags];
    return (await this.#string('virConnectGetDomainCapabilities', lv.virConnectGetDomainCapabilities, args))!;
  }

  async getHostname(): Promise<string> {
    return (await this.#string('virConnectGetHostname', lv.virConnectGetHostname, []))!;
  }

  async getNodeInfo(): Promise<NodeInfo> {
    const info = {} as RawNodeInfo;
    await this.#int('virNodeGetInfo', lv.virNodeGetInfo, [info]);
    return {
      model: info.model,
      memoryBytes: Number(info.memory) * 1024,
      cpus: info.cpus,
      mhz: info.mhz,
      nodes: info.nodes,
      sockets: info.sockets,
      cores: info.cores,
      threads: info.threads,
    };
  }

  /** Free host memory in bytes (virNodeGetFreeMemory). */
  async getFreeMemory(): Promise<number> {
    const bytes = await this.#lane.call<number | bigint>(lv.virNodeGetFreeMemory, [this.#handle('virNodeGetFreeMemory')], {
      op: 'virNodeGetFreeMemory',
      failed: (r) => Number(r) === 0,
    });
    return Number(bytes);
  }

  /** Define (persist) a domain from XML without starting it. */
  async defineDomain(xml: string): Promise<Domain> {
    return this.#domain('virDomainDefineXML', lv.virDomainDefineXML, [xml]);
  }

  /** Create and start a transient domain from XML (flags from DomainCreateFlags). */
  async createDomainXML(xml: string, flags = 0): Promise<Domain> {
    return this.#domain('virDomainCreateXML', lv.virDomainCreateXML, [xml, flags]);
  }

  /** The domain named `name`, or null if there is none. */
  async lookupDomainByName(name: string): Promise<Domain | null> {
    return this.#domainOrNull('virDomainLookupByName', lv.virDomainLookupByName, [name]);
  }

  /** The domain with this UUID (string form), or null if there is none. */
  async lookupDomainByUUID(uuid: string): Promise<Domain | null> {
    return this.#domainOrNull('virDomainLookupByUUIDString', lv.virDomainLookupByUUIDString, [uuid]);
  }

  /** All domains matching `flags` (ListDomainsFlags; 0: all). The caller frees each one. */
  async listAllDomains(flags = 0): Promise<Domain[]> {
    const out: (Ptr | null)[] = [null];
    const count = await this.#int('virConnectListAllDomains', lv.virConnectListAllDomains, [out, flags]);
    const ptrs = takePointerArray(out[0] ?? null, count);
    return ptrs.map((ptr) => Domain.adopt(this, this.#lane, ptr));
  }

  /** Restore a domain saved with Domain.save (virDomainRestoreFlags); `xml`: replacement XML or null. */
  async restore(path: string, xml: string | null, flags = 0): Promise<void> {
    await this.#int('virDomainRestoreFlags', lv.virDomainRestoreFlags, [path, xml, flags]);
  }

  /**
   * Receive lifecycle events (VIR_DOMAIN_EVENT_ID_LIFECYCLE) of every domain on
   * this connection. Resolves once libvirt has registered the callback; events
   * are delivered on the main thread, each on its own turn.
   */
  async onLifecycle(listener: LifecycleListener): Promise<Unsubscribe> {
    const unsubscribe = await subscribeLifecycle(this.#handle('virConnectDomainEventRegisterAny'), this.#lane, listener);
    const wrapped: Unsubscribe = () => {
      this.#subscriptions.delete(wrapped);
      return unsubscribe();
    };
    this.#subscriptions.add(wrapped);
    return wrapped;
  }

  async #setKeepAlive(keepAlive: KeepAlive): Promise<void> {
    const release = eventLoop.acquire();
    try {
      const r = await this.#int('virConnectSetKeepAlive', lv.virConnectSetKeepAlive, [keepAlive.intervalSeconds, keepAlive.count]);
      // 1: the other side does not do keepalive; no need to hold the loop for it.
      if (r === 1) release();
      else this.#held.releaseLoop = release;
    } catch (err) {
      release();
      throw err;
    }
  }

  #handle(op: string): Ptr {
    if (this.#ptr === null) throw freedHandleError(op, 'connection');
    return this.#ptr;
  }

  #int(op: string, fn: LibvirtFunction, args: unknown[]): Promise<number> {
    return this.#lane.call<number>(fn, [this.#handle(op), ...args], { op, failed: isNegative });
  }

  async #string(op: string, fn: LibvirtFunction, args: unknown[]): Promise<string | null> {
    const ptr = await this.#lane.call<Ptr | null>(fn, [this.#handle(op), ...args], { op, failed: isNull });
    return takeString(ptr);
  }

  async #domain(op: string, fn: LibvirtFunction, args: unknown[]): Promise<Domain> {
    const ptr = await this.#lane.call<Ptr | null>(fn, [this.#handle(op), ...args], { op, failed: isNull });
    return Domain.adopt(this, this.#lane, ptr!);
  }

  async #domainOrNull(op: string, fn: LibvirtFunction, args: unknown[]): Promise<Domain | null> {
    try {
      return await this.#domain(op, fn, args);
    } catch (err) {
      if (err instanceof LibvirtError && err.code === ErrorCode.VIR_ERR_NO_DOMAIN) return null;
      throw err;
    }
  }
}
