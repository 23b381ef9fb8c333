// /v1/networks and the network parts of /v1/containers and /v1/vms, through
// the real API server on a real SQLite database. hostd is a fake that records
// the jobs it is sent: what the API decides (rows, addresses, attachments,
// errors) is what this checks; hostd's side has its own tests.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../../../images/containers/builders/busybox.js';
import { loadConfig } from '../../contracts/config.js';
import { ERRORS, ForkdError, type ErrorCode } from '../../contracts/errors.js';
import type { ContainerCreateInput } from '../../contracts/jobs.js';
import { generateApiKey } from '../api-keys.js';
import { openDatabase, type Database } from '../db/client.js';
import type { HostJobs } from '../host-jobs.js';
import { buildApiServer } from '../server.js';
import { FakeHosts, TEST_HOST } from '../test-api.js';

const HOST = TEST_HOST;

let dataDir: string;
let database: Database;
let app: FastifyInstance;
let hosts: FakeHosts;
let adminKey: string;
let acmeKey: string;

async function api(method: string, url: string, body?: unknown, key = adminKey): Promise<{ status: number; json: any }> {
  const res = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, json: res.body ? JSON.parse(res.body) : undefined };
}

const rowsOf = async () => ({
  vms: await database.prisma.vm.count(),
  containers: await database.prisma.container.count(),
  addresses: await database.prisma.networkAddress.count(),
});

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'forkd-networks-api-'));
  const config = loadConfig({ FORKD_DATA_DIR: dataDir, FORKD_LOG_LEVEL: 'error' });
  database = await openDatabase({ url: '', dataDir });
  hosts = new FakeHosts();
  app = await buildApiServer({ config, db: database.prisma, redis: {} as Redis, hostJobs: hosts as unknown as HostJobs });
  const k = generateApiKey();
  await database.prisma.apiKey.create({ data: { role: 'admin', prefix: k.prefix, hash: k.hash } });
  adminKey = k.key;
  expect((await api('POST', '/v1/tenants', { name: 'acme' })).status).toBe(201);
  acmeKey = (await api('POST', '/v1/keys', { tenant: 'acme' })).json.key;
  // An image to run: busybox from the host's busybox-static, uploaded as a user would.
  const archive = join(dataDir, 'busybox.tar');
  await buildBusyboxImage(archive, {});
  for (const key of [adminKey, acmeKey]) {
    const up = await app.inject({ method: 'POST', url: '/v1/images', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-tar' }, payload: readFileSync(archive) });
    expect(up.statusCode, up.body).toBe(201);
  }
});

afterAll(async () => {
  await app?.close();
  await database?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  hosts.up = true;
  hosts.onCreate = new FakeHosts().onCreate;
});

describe('/v1/networks', () => {
  it('lists the default network, made on first use, and creates networks with the next free /24', async () => {
    const list = await api('GET', '/v1/networks');
    expect(list.status).toBe(200);
    expect(list.json.networks).toEqual([expect.objectContaining({ name: 'default', subnet: '10.89.0.0/24', gateway: '10.89.0.1', internal: false, hostId: null, containers: [] })]);

    const app1 = await api('POST', '/v1/networks', { name: 'app' });
    expect(app1.status, JSON.stringify(app1.json)).toBe(201);
    expect(app1.json).toMatchObject({ name: 'app', subnet: '10.89.1.0/24', gateway: '10.89.1.1', internal: false });
    const back = await api('POST', '/v1/networks', { name: 'backend', subnet: '172.30.0.0/16', internal: true });
    expect(back.json).toMatchObject({ subnet: '172.30.0.0/16', gateway: '172.30.0.1', internal: true });
    expect((await api('GET', `/v1/networks/${back.json.id}`)).json.name).toBe('backend');
    expect((await api('GET', '/v1/networks/backend')).json.id).toBe(back.json.id);
  });

  it('refuses malformed and overlapping subnets and taken names, leaving no row', async () => {
    const before = await database.prisma.network.count();
    const malformed = await api('POST', '/v1/networks', { name: 'x', subnet: '10.90.0.0' });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toMatchObject({ code: 'ERR_VALIDATION', field: 'subnet' });
    const unaligned = await api('POST', '/v1/networks', { name: 'x', subnet: '10.90.0.5/24' });
    expect(unaligned.json.error).toMatchObject({ code: 'ERR_VALIDATION', field: 'subnet' });
    expect(unaligned.json.error.message).toMatch(/10\.90\.0\.0\/24/);
    const transit = await api('POST', '/v1/networks', { name: 'x', subnet: '100.127.0.0/24' });
    expect(transit.json.error).toMatchObject({ code: 'ERR_VALIDATION', field: 'subnet' });

    const overlap = await api('POST', '/v1/networks', { name: 'x', subnet: '10.89.1.128/25' });
    expect(overlap.status).toBe(409);
    expect(overlap.json.error).toMatchObject({ code: 'ERR_CONFLICT', field: 'subnet' });
    expect(overlap.json.error.message).toMatch(/app/);
    const overDefault = await api('POST', '/v1/networks', { name: 'x', subnet: '10.89.0.0/16' });
    expect(overDefault.json.error).toMatchObject({ code: 'ERR_CONFLICT', field: 'subnet' });

    const dup = await api('POST', '/v1/networks', { name: 'app' });
    expect(dup.json.error).toMatchObject({ code: 'ERR_CONFLICT', field: 'name' });
    const badName = await api('POST', '/v1/networks', { name: '-bad' });
    expect(badName.json.error).toMatchObject({ code: 'ERR_VALIDATION', field: 'body.name' });
    expect(await database.prisma.network.count()).toBe(before);
  });

  it('keeps networks per tenant: another tenant may have `app` on the same subnet', async () => {
    const theirs = await api('POST', '/v1/networks', { name: 'app', subnet: '10.89.1.0/24' }, acmeKey);
    expect(theirs.status, JSON.stringify(theirs.json)).toBe(201);
    const names = (await api('GET', '/v1/networks', undefined, acmeKey)).json.networks.map((n: { name: string }) => n.name);
    expect(names).toEqual(['app', 'default']);
    expect((await api('GET', '/v1/networks/backend', undefined, acmeKey)).status).toBe(404);
  });

  it('refuses to delete the default network', async () => {
    const res = await api('DELETE', '/v1/networks/default');
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('ERR_CONFLICT');
  });
});

describe('containers on networks', () => {
  /**
   * A create followed to its end: a 4xx found before the work is the answer
   * itself; otherwise the 202's operation, long-polled, gives the container
   * (status 202) or its error (with the catalogue's status for its code).
   */
  const run = async (body: Record<string, unknown>, key = adminKey): Promise<{ status: number; json: any }> => {
    const res = await api('POST', '/v1/containers', { image: 'busybox', boot: 'cold', command: ['sleep', '1000'], ...body }, key);
    if (res.status !== 202) return res;
    let op = res.json.operation;
    while (op.state !== 'succeeded' && op.state !== 'failed') op = (await api('GET', `/v1/operations/${op.id}?waitSec=60`, undefined, key)).json.operation;
    return op.state === 'succeeded' ? { status: 202, json: op.result } : { status: ERRORS[op.error.code as ErrorCode].status, json: { error: op.error } };
  };

  it('gives a container the lowest free address and hostd the NetworkAttachment; the network stays on that host', async () => {
    const c = await run({ name: 'web', network: 'app', ports: [{ containerPort: 80, hostPort: 8080 }] });
    expect(c.status, JSON.stringify(c.json)).toBe(202);
    const app1 = (await api('GET', '/v1/networks/app')).json;
    expect(c.json.network).toEqual({ id: app1.id, name: 'app', address: '10.89.1.2' });
    const input = hosts.last('container.create') as ContainerCreateInput;
    expect(input.network).toEqual({
      networkId: app1.id, tenantId: expect.any(String), name: 'app', subnet: '10.89.1.0/24', gateway: '10.89.1.1', address: '10.89.1.2', internal: false, aliases: ['web'],
    });
    expect(input.ports).toEqual([{ containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1' }]);
    expect(app1.hostId).toBe(HOST);
    expect(app1.containers).toEqual([{ id: c.json.id, name: 'web', address: '10.89.1.2' }]);

    const d = await run({ name: 'db' }); // no network: `default`
    expect(d.json.network).toMatchObject({ name: 'default', address: '10.89.0.2' });
  });

  it('gives peers the aliases a create asks for beside the name (Docker\'s network aliases), and refuses bad ones on `aliases`', async () => {
    const c = await run({ name: 'app_web_1', aliases: ['web', 'app_web_1'] });
    expect(c.status, JSON.stringify(c.json)).toBe(202);
    expect((hosts.last('container.create') as ContainerCreateInput).network!.aliases).toEqual(['app_web_1', 'web']);
    expect((await api('DELETE', '/v1/containers/app_web_1?force=true')).status).toBe(200);
    const bad = await api('POST', '/v1/containers', { image: 'busybox', command: ['true'], aliases: ['no spaces'] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.field).toMatch(/aliases/);
  });

  it('keeps the labels a network is created with', async () => {
    const made = await api('POST', '/v1/networks', { name: 'labelled', labels: { 'com.docker.compose.project': 'p' } });
    expect(made.status, JSON.stringify(made.json)).toBe(201);
    expect((await api('GET', '/v1/networks/labelled')).json.labels).toEqual({ 'com.docker.compose.project': 'p' });
    expect((await api('DELETE', '/v1/networks/labelled')).status).toBe(200);
  });

  it('answers 404 for an unknown network and leaves no row', async () => {
    const before = await rowsOf();
    const res = await run({ network: 'nope' });
    expect(res.status).toBe(404);
    expect(res.json.error).toMatchObject({ code: 'ERR_NOT_FOUND', field: 'network' });
    expect(await rowsOf()).toEqual(before);
  });

  it('refuses to delete a network in use, naming its containers', async () => {
    const res = await api('DELETE', '/v1/networks/app');
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({ code: 'ERR_CONFLICT' });
    expect(res.json.error.message).toMatch(/web/);
    expect((await api('GET', '/v1/networks/app')).status).toBe(200);
  });

  it('answers 409 on `network` when the subnet is full, creating nothing', async () => {
    const tiny = (await api('POST', '/v1/networks', { name: 'tiny', subnet: '10.77.0.0/29' })).json;
    const tenantId = (await database.prisma.network.findUniqueOrThrow({ where: { id: tiny.id } })).tenantId;
    for (let i = 2; i <= 6; i++) {
      const vm = await database.prisma.vm.create({ data: { tenantId, hostId: HOST, domainName: `held-${i}`, vcpus: 1, memoryMib: 128, mac: `52:54:00:00:00:0${i}`, bootMode: 'cold', state: 'running' } });
      await database.prisma.networkAddress.create({ data: { networkId: tiny.id, address: `10.77.0.${i}`, vmId: vm.id } });
    }
    const before = await rowsOf();
    const res = await run({ name: 'one-too-many', network: 'tiny' });
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({ code: 'ERR_CONFLICT', field: 'network' });
    expect(res.json.error.message).toMatch(/full/);
    expect(await rowsOf()).toEqual(before);
    expect(await database.prisma.container.findFirst({ where: { name: 'one-too-many' } })).toBeNull();
    await database.prisma.vm.deleteMany({ where: { domainName: { startsWith: 'held-' } } });
    expect(await database.prisma.networkAddress.count({ where: { networkId: tiny.id } })).toBe(0); // the rows go with their VMs
  });

  it('releases the address when hostd fails the create', async () => {
    hosts.onCreate = () => { throw new ForkdError('ERR_CONTAINER_START', 'no such command'); };
    const before = await rowsOf();
    const res = await run({ name: 'broken', network: 'app' });
    expect(res.status).toBe(422);
    expect(await rowsOf()).toEqual(before);
  });

  it('refuses a port another live container on the host publishes (any tenant, 0.0.0.0 against any address)', async () => {
    const before = await rowsOf();
    const same = await run({ ports: [{ containerPort: 80, hostPort: 8080, hostIp: '0.0.0.0' }] }, acmeKey);
    expect(same.status).toBe(409);
    expect(same.json.error).toMatchObject({ code: 'ERR_CONFLICT', field: 'ports' });
    expect(same.json.error.message).toMatch(/0\.0\.0\.0:8080/);
    expect(same.json.error.message).not.toMatch(/web/); // another tenant's container is not named
    expect(await rowsOf()).toEqual(before);
    const elsewhere = await run({ name: 'other-ip', ports: [{ containerPort: 80, hostPort: 8080, hostIp: '10.0.0.1' }] });
    expect(elsewhere.status, JSON.stringify(elsewhere.json)).toBe(202);
  });

  it('passes hostd\'s port conflict on as 409 on `ports`, and checks hostIp', async () => {
    hosts.onCreate = () => { throw new ForkdError('ERR_CONFLICT', 'port 127.0.0.1:9999 is in use on the host', { field: 'ports' }); };
    const taken = await run({ ports: [{ containerPort: 80, hostPort: 9999 }] });
    expect(taken.status).toBe(409);
    // hostd finds this after the answer: the operation's error has the code and message (not the field).
    expect(taken.json.error).toMatchObject({ code: 'ERR_CONFLICT', message: expect.stringMatching(/9999 is in use/) });
    for (const hostIp of ['localhost', '999.0.0.1', '10.0.0']) {
      const bad = await run({ ports: [{ containerPort: 80, hostIp }] });
      expect(bad.status, hostIp).toBe(400);
      expect(bad.json.error).toMatchObject({ code: 'ERR_VALIDATION', field: 'ports' });
    }
    const twice = await run({ ports: [{ containerPort: 80, hostPort: 7000 }, { containerPort: 81, hostPort: 7000 }] });
    expect(twice.json.error).toMatchObject({ code: 'ERR_VALIDATION', field: 'ports' });
  });

  it('sends new VMs of a network to its host, and says so when that host is down', async () => {
    hosts.up = false;
    const res = await run({ network: 'app' });
    expect(res.status).toBe(503);
    expect(res.json.error.code).toBe('ERR_NO_CAPACITY');
    expect(res.json.error.message).toMatch(/network app lives on host h1/);
  });

  it('forks a VM onto a network when asked', async () => {
    const tenantId = (await database.prisma.network.findFirstOrThrow({ where: { name: 'app', tenant: { name: 'default' } } })).tenantId;
    const t = await database.prisma.template.create({ data: { hostId: HOST, vcpus: 1, memoryMib: 256, accel: 'tcg', qemuVersion: '1', machineType: 'pc', state: 'ready' } });
    const vm = await api('POST', '/v1/vms', { template: t.id, network: 'app' });
    expect(vm.status, JSON.stringify(vm.json)).toBe(201);
    expect(vm.json.network).toMatchObject({ name: 'app', address: '10.89.1.3' });
    expect(hosts.last('vm.fork').network).toMatchObject({ name: 'app', address: '10.89.1.3', tenantId, aliases: [] });
    const plain = await api('POST', '/v1/vms', { template: t.id });
    expect(plain.json.network).toBeNull();
    expect(hosts.last('vm.fork').network).toBeUndefined();
    expect((await api('GET', '/v1/networks/app')).json.vms).toEqual([{ id: vm.json.id, address: '10.89.1.3' }]);
    expect((await api('DELETE', `/v1/vms/${vm.json.id}`)).status).toBe(200);
    expect((await api('DELETE', `/v1/vms/${plain.json.id}`)).status).toBe(200);
  });

  it('frees the address with the container, then lets the network go and asks its host to remove it', async () => {
    for (const name of ['web', 'other-ip']) {
      const gone = await api('DELETE', `/v1/containers/${name}?force=true`);
      expect(gone.status, JSON.stringify(gone.json)).toBe(200);
    }
    const app1 = (await api('GET', '/v1/networks/app')).json;
    expect(app1.containers).toEqual([]);
    const del = await api('DELETE', '/v1/networks/app');
    expect(del.status, JSON.stringify(del.json)).toBe(200);
    expect((await api('GET', '/v1/networks/app')).status).toBe(404);
    await expect.poll(() => hosts.calls.find((c) => c.name === 'network.remove')).toEqual({ hostId: HOST, name: 'network.remove', input: { networkId: app1.id } });
  });
});
