// Domain: one virDomainPtr. `name` and `uuid` are read once when the handle is
// adopted; every other call goes to libvirtd on the libuv pool.
//
// Calls run one at a time on the connection's lane (call.ts), in the order
// made. `free()` is the contract: it drops our reference (virDomainFree),
// after the calls already queued. A
// FinalizationRegistry frees handles that were garbage-collected without it,
// as a safety net only (it runs late, or never at exit).
import { isNegative, isNull, type Lane } from './call.js';
import type { Connection } from './connection.js';
import { ErrorCode, LibvirtError, freedHandleError } from './errors.js';
import { domainIdentity, lv, takeString, type Ptr } from './ffi.js';
import { monitorCommand, monitorCommandWithFiles, type MonitorReplyWithFiles } from './qemu.js';
import { domainStateInfo, type DomainStateInfo, type MetadataTypeValue } from './types.js';

const finalizer = new FinalizationRegistry<Ptr>((ptr) => {
  lv.virDomainFree.async(ptr, () => {});
});

export class Domain {
  readonly name: string;
  readonly uuid: string;
  /** The connection this handle was obtained on (libvirt keeps it alive while the handle lives). */
  readonly connection: Connection;
  #ptr: Ptr | null;
  readonly #lane: Lane;

  private constructor(connection: Connection, lane: Lane, ptr: Ptr, name: string, uuid: string) {
    this.connection = connection;
    this.#lane = lane;
    this.#ptr = ptr;
    this.name = name;
    this.uuid = uuid;
    finalizer.register(this, ptr, this);
  }

  /** @internal Wrap a virDomainPtr we own one reference to (connection.ts only). */
  static adopt(connection: Connection, lane: Lane, ptr: Ptr): Domain {
    const id = domainIdentity(ptr);
    if (id === null) {
      lv.virDomainFree.async(ptr, () => {});
      throw new LibvirtError('virDomainGetName', null);
    }
    return new Domain(connection, lane, ptr, id.name, id.uuid);
  }

  get freed(): boolean {
    return this.#ptr === null;
  }

  /** Start a defined domain (virDomainCreate). */
  async create(): Promise<void> {
    await this.#int('virDomainCreate', lv.virDomainCreate, []);
  }

  /** Start a defined domain with virDomainCreateFlags (e.g. DomainCreateFlags.START_PAUSED). */
  async createWithFlags(flags: number): Promise<void> {
    await this.#int('virDomainCreateWithFlags', lv.virDomainCreateWithFlags, [flags]);
  }

  /** Hard stop (virDomainDestroyFlags; flags from DomainDestroyFlags). */
  async destroy(flags = 0): Promise<void> {
    await this.#int('virDomainDestroyFlags', lv.virDomainDestroyFlags, [flags]);
  }

  /** Ask the guest to shut down (ACPI by default). */
  async shutdown(flags = 0): Promise<void> {
    await this.#int('virDomainShutdownFlags', lv.virDomainShutdownFlags, [flags]);
  }

  /** Remove the persistent definition (flags from DomainUndefineFlags). */
  async undefine(flags = 0): Promise<void> {
    await this.#int('virDomainUndefineFlags', lv.virDomainUndefineFlags, [flags]);
  }

  async suspend(): Promise<void> {
    await this.#int('virDomainSuspend', lv.virDomainSuspend, []);
  }

  async resume(): Promise<void> {
    await this.#int('virDomainResume', lv.virDomainResume, []);
  }

  async getState(): Promise<DomainStateInfo> {
    const state: number[] = [0];
    const reason: number[] = [0];
    await this.#int('virDomainGetState', lv.virDomainGetState, [state, reason, 0]);
    return domainStateInfo(state[0] ?? 0, reason[0] ?? 0);
  }

  /** The domain XML (flags from DomainXMLFlags). */
  async getXMLDesc(flags = 0): Promise<string> {
    return (await this.#string('virDomainGetXMLDesc', lv.virDomainGetXMLDesc, [flags]))!;
  }

  /**
   * Save the running domain's memory and device state to `path` and stop it
   * (virDomainSaveFlags). `xml`: an alternative domain XML for the restore, or null.
   */
  async save(path: string, xml: string | null, flags = 0): Promise<void> {
    await this.#int('virDomainSaveFlags', lv.virDomainSaveFlags, [path, xml, flags]);
  }

  /**
   * Hot-plug a device described by `xml` (virDomainAttachDeviceFlags; `flags`:
   * DomainModificationImpact, LIVE for a running transient domain).
   */
  async attachDevice(xml: string, flags: number): Promise<void> {
    await this.#int('virDomainAttachDeviceFlags', lv.virDomainAttachDeviceFlags, [xml, flags]);
  }

  /** Unplug a device (virDomainDetachDeviceFlags); the guest must release it, so this may return before it is gone. */
  async detachDevice(xml: string, flags: number): Promise<void> {
    await this.#int('virDomainDetachDeviceFlags', lv.virDomainDetachDeviceFlags, [xml, flags]);
  }

  /**
   * Read metadata (virDomainGetMetadata). For MetadataType.ELEMENT, `uri` is the
   * namespace. Returns null when the domain has no such metadata.
   */
  async getMetadata(type: MetadataTypeValue, uri: string | null, flags = 0): Promise<string | null> {
    try {
      return await this.#string('virDomainGetMetadata', lv.virDomainGetMetadata, [type, uri, flags]);
    } catch (err) {
      if (err instanceof LibvirtError && err.code === ErrorCode.VIR_ERR_NO_DOMAIN_METADATA) return null;
      throw err;
    }
  }

  /**
   * Write metadata (virDomainSetMetadata). For MetadataType.ELEMENT: `xml` is one
   * element, `key` the namespace prefix, `uri` the namespace; `xml` null removes it.
   * `flags`: DomainModificationImpact.
   */
  async setMetadata(
    type: MetadataTypeValue,
    xml: string | null,
    key: string | null,
    uri: string | null,
    flags = 0,
  ): Promise<void> {
    await this.#int('virDomainSetMetadata', lv.virDomainSetMetadata, [type, xml, key, uri, flags]);
  }

  /** Send a QMP (or, with QemuMonitorFlags.HMP, HMP) command; returns the reply verbatim. */
  async qemuMonitorCommand(cmd: string, flags = 0): Promise<string> {
    return monitorCommand(this.#handle('virDomainQemuMonitorCommand'), this.#lane, cmd, flags);
  }

  /** Same, passing open fds along (e.g. QMP getfd); see qemu.ts for fd ownership. */
  async qemuMonitorCommandWithFiles(cmd: string, fds: readonly number[], flags = 0): Promise<MonitorReplyWithFiles> {
    return monitorCommandWithFiles(this.#handle('virDomainQemuMonitorCommandWithFiles'), this.#lane, cmd, fds, flags);
  }

  /** Release this handle (virDomainFree). Idempotent. The domain itself is untouched. */
  async free(): Promise<void> {
    const ptr = this.#ptr;
    if (ptr === null) return;
    this.#ptr = null;
    finalizer.unregister(this);
    await this.#lane.call<number>(lv.virDomainFree, [ptr], { op: 'virDomainFree', failed: isNegative });
  }

  #handle(op: string): Ptr {
    if (this.#ptr === null) throw freedHandleError(op, 'domain');
    return this.#ptr;
  }

  #int(op: string, fn: (typeof lv)[keyof typeof lv], args: unknown[]): Promise<number> {
    return this.#lane.call<number>(fn, [this.#handle(op), ...args], { op, failed: isNegative });
  }

  async #string(op: string, fn: (typeof lv)[keyof typeof lv], args: unknown[]): Promise<string | null> {
    const ptr = await this.#lane.call<Ptr | null>(fn, [this.#handle(op), ...args], { op, failed: isNull });
    return takeString(ptr);
  }
}
