// The database follows the hosts: a VM destroyed behind forkd's back (straight
// through libvirt, by the domain name the API shows) is found by the
// reconciler, its row marked lost, its container failed, its network address
// and its tenant's quota given back; a VM a host runs that the database does
// not know is destroyed. One cold-booted VM at a time; rounds are run with
// the admin route (the periodic loop is off: FORKD_RECONCILE_INTERVAL_MS=0
// leaves only the round at API start).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { MetadataType, type Connection } from '../native/libvirt/index.js';
import { openDatabase, type Database } from '../services/api/db/client.js';
import type { ReconcileReport } from '../services/api/reconciler/reconciler.js';
import { openLibvirt } from '../services/hostd/libvirt.js';
import { FORKD_XMLNS } from '../services/hostd/vm/domain-xml.js';
import { parseDomainMetadata } from '../services/hostd/vm/vm-record.js';
import { settled, startStack, type Stack } from './harness.js';

let stack: Stack;
let conn: Connection;
let db: Database;
let work: string;
let tenantKey = '';

interface ContainerView { id: string; state: string; network: { address: string } | null; vm: { id: string; domainName: string } }
interface VmView { id: string; state: string }

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

const asTenant = (path: string, init: RequestInit = {}) => stack.api(path, { ...init, key: tenantKey });
/** A create followed to its end as the tenant (202 with the running container, or the synchronous refusal). */
const createContainer = async () => settled({ api: asTenant }, await asTenant('/v1/containers', {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ image: 'busybox:latest', command: ['sleep', '3600'] }),
}));
const reconcile = async () => json<ReconcileReport>(await stack.api('/v1/admin/reconcile', { method: 'POST' }));
const hostReport = (r: ReconcileReport) => r.hosts.find((h) => h.hostId === stack.config.hostId)!;

/** VM domains libvirt runs for this test's host id, by forkd's metadata. */
async function ourDomains(): Promise<string[]> {
  const names: string[] = [];
  for (const d of await conn.listAllDomains(0)) {
    const md = parseDomainMetadata(await d.getMetadata(MetadataType.ELEMENT, FORKD_XMLNS).catch(() => null));
    if (md?.host === stack.config.hostId) names.push(d.name);
    await d.free();
  }
  return names.sort();
}

/** Reconciles until `done` says so; bounded in rounds, not a timing claim. */
async function reconcileUntil(done: (r: ReturnType<typeof hostReport>) => boolean): Promise<ReturnType<typeof hostReport>> {
  let last;
  for (let i = 0; i < 40; i++) {
    last = hostReport(await reconcile());
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`reconcile never got there: ${JSON.stringify(last)}`);
}

beforeAll(async () => {
  stack = await startStack({ name: 'reconcile', env: { FORKD_POOL_SIZE: '0', FORKD_RECONCILE_INTERVAL_MS: '0', FORKD_RECONCILE_ORPHAN_GRACE_MS: '0' } });
  conn = await openLibvirt('qemu:///system');
  db = await openDatabase({ url: '', dataDir: stack.dataDir, migrate: false });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-reconcile-'));
  await json(await stack.api('/v1/tenants', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'drift', maxVms: 1 }) }), 201);
  tenantKey = (await json<{ key: string }>(await stack.api('/v1/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'drift' }) }), 201)).key;
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  await json(await asTenant('/v1/images', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: readFileSync(join(work, 'busybox.tar')) }), 201);
});

afterAll(async () => {
  if (conn) {
    for (const name of await ourDomains().catch(() => [] as string[])) {
      const d = await conn.lookupDomainByName(name);
      await d?.destroy().catch(() => undefined);
      await d?.free();
    }
    await conn.close();
  }
  await db?.close();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a VM destroyed behind forkd\'s back', () => {
  it('is marked lost, fails its container and gives back its address and its tenant\'s quota', async () => {
    const c = await json<ContainerView>(await createContainer(), 202);
    expect(c.state).toBe('running');
    expect(c.network).not.toBeNull();

    // Positive control: a round over an untouched VM changes nothing, and the quota holds.
    expect(hostReport(await reconcile())).toMatchObject({ lost: [], destroyed: [] });
    expect((await json<ContainerView>(await asTenant(`/v1/containers/${c.id}`))).state).toBe('running');
    expect((await json<VmView>(await asTenant(`/v1/vms/${c.vm.id}`))).state).toBe('running');
    expect((await json<{ error: { code: string } }>(await createContainer(), 429)).error.code).toBe('ERR_QUOTA');

    // Behind forkd's back: libvirt destroys the domain the API named.
    const domain = await conn.lookupDomainByName(c.vm.domainName);
    expect(domain).not.toBeNull();
    await domain!.destroy();
    await domain!.free();

    const report = await reconcileUntil((h) => h.lost.includes(c.vm.id));
    expect(report.destroyed).toEqual([]);
    expect((await json<VmView>(await asTenant(`/v1/vms/${c.vm.id}`))).state).toBe('lost');
    const after = await json<ContainerView>(await asTenant(`/v1/containers/${c.id}`));
    expect(after.state).toBe('failed');
    expect(after.network).toBeNull();
    const why = await db.prisma.operation.findFirst({ where: { targetId: c.vm.id, kind: 'vm.lost' } });
    expect(why?.result).toMatchObject({ reason: expect.stringContaining('no longer runs it'), from: 'running', containers: [c.id] });
    // A second round finds nothing more to do.
    expect(hostReport(await reconcile())).toMatchObject({ lost: [], destroyed: [] });

    // The quota came back: the tenant's one VM may be made again (and is the next test's).
    const next = await json<ContainerView>(await createContainer(), 202);
    expect(next.state).toBe('running');
  });
});

describe('a VM the database does not know', () => {
  it('is destroyed on its host, while a VM with a live row is left alone', async () => {
    const list = await json<{ containers: ContainerView[] }>(await asTenant('/v1/containers'));
    const c = list.containers.find((x) => x.state === 'running')!;
    expect(await ourDomains()).toContain(c.vm.domainName);

    // Positive control: with its rows, the VM survives a round.
    expect(hostReport(await reconcile())).toMatchObject({ destroyed: [], lost: [] });
    expect(await ourDomains()).toContain(c.vm.domainName);

    // The database forgets it (as if its rows were lost or removed while the host kept it).
    await db.prisma.$transaction([
      db.prisma.networkAddress.deleteMany({ where: { vmId: c.vm.id } }),
      db.prisma.container.deleteMany({ where: { vmId: c.vm.id } }),
      db.prisma.vm.delete({ where: { id: c.vm.id } }),
    ]);
    const report = hostReport(await reconcile());
    expect(report).toMatchObject({ destroyed: [c.vm.id], destroyFailed: [], lost: [] });
    expect(await ourDomains()).not.toContain(c.vm.domainName);
  });
});
