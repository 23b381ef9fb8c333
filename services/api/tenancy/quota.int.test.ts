// reserveVmQuota holds under concurrency: parallel creates of one tenant,
// each reserving inside its own transaction, cannot pass the quota together.
// On a real SQLite, and on PostgreSQL where test-postgres.ts finds one.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { openDatabase, type Database } from '../db/client.js';
import { startTestPostgres, type TestPostgres } from '../db/test-postgres.js';
import { randomMac } from '../vm-mac.js';
import { reserveVmQuota } from './quota.js';

const PARALLEL = 8;
const MAX_VMS = 3;

let sqliteDir: string;
let server: TestPostgres | undefined;
let pgSkip: string | undefined;

beforeAll(async () => {
  sqliteDir = mkdtempSync(join(tmpdir(), 'forkd-quota-'));
  const r = await startTestPostgres();
  if ('pg' in r) server = r.pg;
  else {
    pgSkip = r.skip;
    console.warn(`PostgreSQL quota tests skipped: ${r.skip}`);
  }
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(sqliteDir, { recursive: true, force: true });
});

/** One create as containers.ts and vms.ts do it: reserve, then insert, in one transaction. */
async function create(db: Database, tenantId: string, memoryMib = 256): Promise<string> {
  const vmId = randomUUID();
  await db.prisma.$transaction(async (tx) => {
    await reserveVmQuota(tx, tenantId, memoryMib);
    await tx.vm.create({ data: { id: vmId, tenantId, hostId: 'h1', domainName: `forkd-vm-${vmId}`, vcpus: 1, memoryMib, mac: randomMac(), bootMode: 'cold' } });
  }, { maxWait: 30_000, timeout: 30_000 });
  return vmId;
}

function suite(kind: 'sqlite' | 'postgresql', url: () => Promise<string>): void {
  let db: Database;
  let acme: string;
  let globex: string;

  beforeAll(async () => {
    if (kind === 'postgresql' && pgSkip) return; // each test says why it skips
    db = await openDatabase({ url: await url(), dataDir: sqliteDir });
    await db.prisma.host.create({ data: { id: 'h1', name: 'h1', address: 'h1', accel: 'tcg', cpus: 2, memoryMib: 4096, libvirtVersion: '1', qemuVersion: '1' } });
    acme = (await db.prisma.tenant.create({ data: { name: 'acme', maxVms: MAX_VMS, maxMemoryMib: 100_000 } })).id;
    globex = (await db.prisma.tenant.create({ data: { name: 'globex', maxVms: 100, maxMemoryMib: 512 } })).id;
  }, 60_000);

  afterAll(async () => { await db?.close(); });

  it(`${PARALLEL} parallel creates against maxVms=${MAX_VMS}: exactly ${MAX_VMS} succeed, the rest get ERR_QUOTA`, async (ctx) => {
    if (kind === 'postgresql' && pgSkip) return ctx.skip(pgSkip);
    const results = await Promise.allSettled(Array.from({ length: PARALLEL }, () => create(db, acme)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ForkdError] : []));
    expect(ok).toHaveLength(MAX_VMS);
    expect(refused.map((e) => [e.code, e.field])).toEqual(Array(PARALLEL - MAX_VMS).fill(['ERR_QUOTA', 'maxVms']));
    expect(await db.prisma.vm.count({ where: { tenantId: acme } })).toBe(MAX_VMS);
    // Positive control: another tenant is not held back by acme's full quota.
    await expect(create(db, globex)).resolves.toEqual(expect.any(String));
    // A VM that failed gives its place back.
    const first = (ok[0] as PromiseFulfilledResult<string>).value;
    await db.prisma.vm.update({ where: { id: first }, data: { state: 'failed' } });
    await expect(create(db, acme)).resolves.toEqual(expect.any(String));
    await expect(create(db, acme)).rejects.toMatchObject({ code: 'ERR_QUOTA' });
  }, 120_000);

  it('parallel creates cannot pass the memory quota together either', async (ctx) => {
    if (kind === 'postgresql' && pgSkip) return ctx.skip(pgSkip);
    // globex: 512 MiB, 256 already used by the positive control above; each create asks for 128.
    const results = await Promise.allSettled(Array.from({ length: PARALLEL }, () => create(db, globex, 128)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(results.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as ForkdError).field))
      .toEqual(Array(PARALLEL - 2).fill('maxMemoryMib'));
  }, 120_000);
}

describe('SQLite', () => suite('sqlite', async () => ''));
describe('PostgreSQL', () => suite('postgresql', async () => server!.freshDatabase()));
