// The raw boundary: koffi declarations of libvirt.so.0, libvirt-qemu.so.0 and
// the two libc calls we need, plus every decode of memory libvirt hands us.
// Nothing outside this file reads a raw pointer's memory or frees C memory.
//
// Ownership rules (libvirt's, restated):
// - `char *` results (XML, hostname, capabilities, metadata, monitor replies)
//   belong to the caller and are freed with libc `free()` right after copying
//   them into a JS string: `takeString`. They are declared `void *` so koffi
//   never decodes them behind our back (a `char *` return would leak).
// - `const char *` results (virDomainGetName) belong to the object: copied, never freed.
// - virDomainPtr / virConnectPtr are refcounted by libvirt; each one we get
//   is released once with virDomainFree / virConnectClose (domain.ts, connection.ts).
// - Arrays returned through `T **` out-params (virConnectListAllDomains,
//   virDomainQemuMonitorCommandWithFiles' fds) are freed with libc `free()`
//   after their elements are copied out.
import koffi from 'koffi';

import type { RawLibvirtError } from './errors.js';
import { processSingleton } from './singleton.js';

type KoffiFunction = ReturnType<ReturnType<typeof koffi.load>['func']>;

/** An opaque libvirt object pointer (virConnectPtr, virDomainPtr) as koffi gives it. */
export type Ptr = bigint;

// Everything koffi declares, once per process (singleton.ts says why).
function load() {
  const libvirt = koffi.load('libvirt.so.0');
  const libvirtQemu = koffi.load('libvirt-qemu.so.0');
  const libc = koffi.load('libc.so.6');

  // ---- types ---------------------------------------------------------------

  const virError = koffi.struct('forkd_virError', {
    code: 'int',
    domain: 'int',
    message: 'const char *',
    level: 'int',
    conn: 'void *',
    dom: 'void *',
    str1: 'const char *',
    str2: 'const char *',
    str3: 'const char *',
    int1: 'int',
    int2: 'int',
    net: 'void *',
  });

  const virNodeInfo = koffi.struct('forkd_virNodeInfo', {
    model: koffi.array('char', 32, 'String'),
    memory: 'unsigned long',
    cpus: 'unsigned int',
    mhz: 'unsigned int',
    nodes: 'unsigned int',
    sockets: 'unsigned int',
    cores: 'unsigned int',
    threads: 'unsigned int',
  });

  const ErrorFunc = koffi.proto('void forkd_virErrorFunc(void *userData, void *error)');
  const LifecycleCallback = koffi.proto(
    'int forkd_virConnectDomainEventCallback(void *conn, void *dom, int event, int detail, void *opaque)',
  );

  // ---- functions -----------------------------------------------------------

  const f = (decl: string): KoffiFunction => libvirt.func(decl);

  const lv = {
    virInitialize: f('int virInitialize()'),
    virSetErrorFunc: f('void virSetErrorFunc(void *userData, forkd_virErrorFunc *handler)'),
    virConnSetErrorFunc: f('void virConnSetErrorFunc(void *conn, void *userData, forkd_virErrorFunc *handler)'),

    virConnectOpen: f('void *virConnectOpen(const char *name)'),
    virConnectClose: f('int virConnectClose(void *conn)'),
    virConnectGetVersion: f('int virConnectGetVersion(void *conn, _Out_ unsigned long *hvVer)'),
    virConnectGetLibVersion: f('int virConnectGetLibVersion(void *conn, _Out_ unsigned long *libVer)'),
    virConnectGetCapabilities: f('void *virConnectGetCapabilities(void *conn)'),
    virConnectGetDomainCapabilities: f(
      'void *virConnectGetDomainCapabilities(void *conn, const char *emulatorbin, const char *arch, const char *machine, const char *virttype, unsigned int flags)',
    ),
    virConnectGetHostname: f('void *virConnectGetHostname(void *conn)'),
    virNodeGetInfo: f('int virNodeGetInfo(void *conn, _Out_ forkd_virNodeInfo *info)'),
    virNodeGetFreeMemory: f('unsigned long long virNodeGetFreeMemory(void *conn)'),
    virConnectSetKeepAlive: f('int virConnectSetKeepAlive(void *conn, int interval, unsigned int count)'),
    virConnectListAllDomains: f('int virConnectListAllDomains(void *conn, _Out_ void **domains, unsigned int flags)'),

    virDomainDefineXML: f('void *virDomainDefineXML(void *conn, const char *xml)'),
    virDomainCreateXML: f('void *virDomainCreateXML(void *conn, const char *xml, unsigned int flags)'),
    virDomainLookupByName: f('void *virDomainLookupByName(void *conn, const char *name)'),
    virDomainLookupByUUIDString: f('void *virDomainLookupByUUIDString(void *conn, const char *uuid)'),
    virDomainRestoreFlags: f('int virDomainRestoreFlags(void *conn, const char *from, const char *dxml, unsigned int flags)'),

    virDomainGetName: f('const char *virDomainGetName(void *dom)'),
    virDomainGetUUIDString: f('int virDomainGetUUIDString(void *dom, _Out_ uint8_t *buf)'),
    virDomainFree: f('int virDomainFree(void *dom)'),
    virDomainCreate: f('int virDomainCreate(void *dom)'),
    virDomainCreateWithFlags: f('int virDomainCreateWithFlags(void *dom, unsigned int flags)'),
    virDomainDestroyFlags: f('int virDomainDestroyFlags(void *dom, unsigned int flags)'),
    virDomainShutdownFlags: f('int virDomainShutdownFlags(void *dom, unsigned int flags)'),
    virDomainUndefineFlags: f('int virDomainUndefineFlags(void *dom, unsigned int flags)'),
    virDomainSuspend: f('int virDomainSuspend(void *dom)'),
    virDomainResume: f('int virDomainResume(void *dom)'),
    virDomainGetState: f('int virDomainGetState(void *dom, _Out_ int *state, _Out_ int *reason, unsigned int flags)'),
    virDomainGetXMLDesc: f('void *virDomainGetXMLDesc(void *dom, unsigned int flags)'),
    virDomainSaveFlags: f('int virDomainSaveFlags(void *dom, const char *to, const char *dxml, unsigned int flags)'),
    virDomainAttachDeviceFlags: f('int virDomainAttachDeviceFlags(void *dom, const char *xml, unsigned int flags)'),
    virDomainDetachDeviceFlags: f('int virDomainDetachDeviceFlags(void *dom, const char *xml, unsigned int flags)'),
    virDomainGetMetadata: f('void *virDomainGetMetadata(void *dom, int type, const char *uri, unsigned int flags)'),
    virDomainSetMetadata: f(
      'int virDomainSetMetadata(void *dom, int type, const char *metadata, const char *key, const char *uri, unsigned int flags)',
    ),

    virConnectDomainEventRegisterAny: f(
      'int virConnectDomainEventRegisterAny(void *conn, void *dom, int eventID, void *cb, void *opaque, void *freecb)',
    ),
    virConnectDomainEventDeregisterAny: f('int virConnectDomainEventDeregisterAny(void *conn, int callbackID)'),
    virEventRegisterDefaultImpl: f('int virEventRegisterDefaultImpl()'),
    virEventRunDefaultImpl: f('int virEventRunDefaultImpl()'),
    virEventAddTimeout: f('int virEventAddTimeout(int frequency, void *cb, void *opaque, void *ff)'),

    virDomainQemuMonitorCommand: libvirtQemu.func(
      'int virDomainQemuMonitorCommand(void *dom, const char *cmd, _Out_ void **result, unsigned int flags)',
    ),
    virDomainQemuMonitorCommandWithFiles: libvirtQemu.func(
      'int virDomainQemuMonitorCommandWithFiles(void *dom, const char *cmd, unsigned int ninfiles, int *infiles, _Out_ unsigned int *noutfiles, _Out_ void **outfiles, _Out_ void **result, unsigned int flags)',
    ),
  };

  const cFree = libc.func('void free(void *ptr)');
  const removeTimeoutFn = libvirt.symbol('virEventRemoveTimeout') as Ptr;
  return { lv, cFree, virError, ErrorFunc, LifecycleCallback, removeTimeoutFn };
}

const core = processSingleton('ffi/1', load);
/** Process-wide mutable state of this file. */
const state = processSingleton('ffi-state/1', () => ({
  errorHandler: null as Ptr | null,
  lifecycleCallback: null as Ptr | null,
  eventImplRegistered: false,
}));

/** libvirt entry points. Blocking ones are only ever called through `.async` (call.ts). */
export const lv = core.lv;
export type LibvirtFunction = KoffiFunction;
const cFree = core.cFree;

export interface RawNodeInfo {
  model: string;
  memory: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

// ---- memory we own -------------------------------------------------------

/** Copy a `char *` that libvirt gave us into a JS string, then free it. */
export function takeString(ptr: Ptr | null): string | null {
  if (ptr === null || ptr === 0n) return null;
  try {
    return koffi.decode.string(ptr);
  } finally {
    cFree(ptr);
  }
}

/** Copy an array of `count` pointers that libvirt allocated, then free the array (not the elements). */
export function takePointerArray(ptr: Ptr | null, count: number): Ptr[] {
  if (ptr === null || ptr === 0n) return [];
  try {
    return count > 0 ? (koffi.decode(ptr, 'void *', count) as Ptr[]) : [];
  } finally {
    cFree(ptr);
  }
}

/** Copy an array of `count` ints (file descriptors) that libvirt allocated, then free the array. */
export function takeIntArray(ptr: Ptr | null, count: number): number[] {
  if (ptr === null || ptr === 0n) return [];
  try {
    return count > 0 ? Array.from(koffi.decode(ptr, 'int', count) as ArrayLike<number>) : [];
  } finally {
    cFree(ptr);
  }
}

/** A domain's name and UUID: local reads of the virDomain object, no RPC, safe on the main thread. */
export function domainIdentity(dom: Ptr): { name: string; uuid: string } | null {
  const name = lv.virDomainGetName(dom) as string | null;
  const buf = Buffer.alloc(37); // VIR_UUID_STRING_BUFLEN
  if (name === null || (lv.virDomainGetUUIDString(dom, buf) as number) < 0) return null;
  return { name, uuid: buf.toString('latin1', 0, 36) };
}

// ---- error handler -------------------------------------------------------

/** Where copies of dispatched libvirt errors go: `scope` is the per-connection token, 0 for none. */
export type ErrorSink = (scope: number, error: RawLibvirtError) => void;

/**
 * Install the process-wide error handler (which also stops libvirt printing
 * errors on stderr). libvirt calls it on the failing thread; koffi relays it to
 * the main thread and holds the failing thread until it returns, so `error`
 * stays valid while we copy it. See capture.ts for why this is the design.
 */
export function installErrorHandler(sink: ErrorSink): void {
  if (state.errorHandler !== null) return;
  const handler = koffi.register((userData: Ptr | null, error: Ptr | null) => {
    if (error === null) return;
    const e = koffi.decode(error, core.virError) as RawLibvirtError;
    sink(userData === null ? 0 : Number(userData), {
      code: e.code,
      domain: e.domain,
      message: e.message,
      level: e.level,
      str1: e.str1,
      str2: e.str2,
      str3: e.str3,
      int1: e.int1,
      int2: e.int2,
    });
  }, koffi.pointer(core.ErrorFunc));
  state.errorHandler = handler;
  lv.virSetErrorFunc(null, handler);
}

/** Route errors on `conn` to the handler tagged with `scope` (a local setter, no RPC). */
export function attachConnectionErrorHandler(conn: Ptr, scope: number): void {
  if (state.errorHandler === null) throw new Error('installErrorHandler must run first');
  lv.virConnSetErrorFunc(conn, BigInt(scope), state.errorHandler);
}

// ---- event loop ------------------------------------------------------------

/** libvirt's default event loop must be registered before the first connection is opened. */
export function registerEventImpl(): void {
  if (state.eventImplRegistered) return;
  if ((lv.virInitialize() as number) < 0 || (lv.virEventRegisterDefaultImpl() as number) < 0) {
    throw new Error('libvirt: virInitialize/virEventRegisterDefaultImpl failed');
  }
  state.eventImplRegistered = true;
}

/**
 * Make a blocked virEventRunDefaultImpl return soon. Cheap, non-blocking: adds a
 * zero-delay timer whose callback is virEventRemoveTimeout itself, so adding it
 * interrupts the poll, it fires once on the loop thread and removes itself, all
 * in C (the extra `opaque` argument is ignored under the C calling
 * convention). No JS runs on the loop thread for it.
 */
export function wakeEventLoop(): void {
  lv.virEventAddTimeout(0, core.removeTimeoutFn, null, null);
}

export type LifecycleSink = (dom: Ptr, event: number, detail: number, opaque: number) => void;

/**
 * The one registered C callback for VIR_DOMAIN_EVENT_ID_LIFECYCLE. libvirt calls
 * it on the event-loop thread; koffi relays it to the main thread (the loop
 * thread waits), so `dom` is valid during `sink`.
 */
export function lifecycleCallbackPointer(sink: LifecycleSink): Ptr {
  if (state.lifecycleCallback === null) {
    state.lifecycleCallback = koffi.register(
      (_conn: Ptr | null, dom: Ptr | null, event: number, detail: number, opaque: Ptr | null) => {
        if (dom !== null) sink(dom, event, detail, opaque === null ? 0 : Number(opaque));
        return 0;
      },
      koffi.pointer(core.LifecycleCallback),
    );
  }
  return state.lifecycleCallback;
}
