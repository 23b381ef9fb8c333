// Process-wide state. If this package is evaluated twice in one process (two
// bundles, a test runner without module isolation), the second copy must reuse
// the first copy's koffi types (their names are process-global: a second
// declaration throws), libvirt error handler and error ledger (libvirt has one
// global handler), event loop and scope counter. Keys carry a version so an
// incompatible future copy does not share.
export function processSingleton<T>(key: string, make: () => T): T {
  const sym = Symbol.for(`forkd.native.libvirt/${key}`);
  const store = globalThis as unknown as Record<symbol, unknown>;
  if (!(sym in store)) store[sym] = make();
  return store[sym] as T;
}
