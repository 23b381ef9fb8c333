// Small helpers every test file would otherwise write again.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { busyboxLayer, PATH_ENV } from '../images/containers/builders/busybox.js';
import type { Connection } from '../native/libvirt/index.js';
import { ForkdError } from '../services/contracts/errors.js';
import type { HostImage } from '../services/hostd/agent/agent-client.js';

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
/**
 * Starts several things at once and waits for every one to settle before it
 * fails: a caller that keeps each as it comes up (`.then((x) => (a = x))`)
 * then has all of them for its afterAll, even when another one failed to start
 * (Promise.all would reject first and leave the slower ones running unseen).
 */
export async function startAll(starts: Array<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(starts)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

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

/**
 * A one-layer busybox image written into `dir`, in the form AgentClient.importImage
 * takes: for tests that drive the agent without the host image store.
 */
export async function busyboxHostImage(dir: string): Promise<HostImage> {
  const layer = await busyboxLayer();
  const layerPath = join(dir, 'busybox.tar');
  await writeFile(layerPath, layer);
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = { Env: [PATH_ENV], Cmd: ['sh'] };
  return {
    id: `sha256:${createHash('sha256').update(JSON.stringify({ config, diffId })).digest('hex')}`,
    config,
    layers: [{ diffId, size: layer.length, path: layerPath }],
  };
}
