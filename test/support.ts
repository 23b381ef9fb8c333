// Small helpers every test file would otherwise write again.
import { expect } from 'vitest';
import type { Connection } from '../native/libvirt/index.js';
import { ForkdError } from '../services/contracts/errors.js';

/** The ForkdError `p` rejects with (fails the test when it resolves or throws something else). */
export async function rejection(p: Promise<unknown>): Promise<ForkdError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ForkdError);
    return e as ForkdError;
  }
  throw new Error('expected a rejection');
}

/** Names of the libvirt domains whose name starts with `prefix` (a test's own, by its suite prefix). */
export async function domainsNamed(conn: Connection, prefix: string): Promise<string[]> {
  const doms = await conn.listAllDomains();
  const names = doms.map((d) => d.name).filter((n) => n.startsWith(prefix));
  await Promise.all(doms.map((d) => d.free()));
  return names;
}

/** Destroys a test's own domains, by name prefix. */
export async function destroyDomainsNamed(conn: Connection, prefix: string): Promise<void> {
  for (const name of await domainsNamed(conn, prefix)) {
    const d = await conn.lookupDomainByName(name);
    await d?.destroy().catch(() => undefined);
    await d?.free();
  }
}
