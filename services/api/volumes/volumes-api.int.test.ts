// /v1/volumes and the `volumes` of a container create, through the real API
// server on a real SQLite database with a fake hostd: the rows, the claims,
// the jobs hostd is sent and the errors. hostd's side (disks, hot-plug) and
// the guest's (mounts) have their own tests, and test/volumes.test.ts runs it all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { readEvents } from '../../contracts/events/index.js';
import { startTestApi, type TestApi } from '../test-api.js';

let t: TestApi;
let acme: string;
let globex: string;

beforeAll(async () => {
  t = await startTestApi('volumes-api');
  acme = await t.tenant('acme');
  globex = await t.tenant('globex');
  await t.uploadImage(acme);
  await t.uploadImage(globex);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const run = (volumes: unknown, key = acme, name?: string) =>
  t.create('POST', '/v1/containers', { image: 'busybox', command: ['true'], volumes, ...(name ? { name } : {}) }, key);

describe('/v1/volumes', () => {
  it('creates a volume (default size), lists it, gets it by name and id, and tells the host to make its disk', async () => {
    const made = await t.api('POST', '/v1/volumes', { name: 'db', labels: { tier: 'data' } }, acme);
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({ name: 'db', sizeMib: 1024, labels: { tier: 'data' }, attachedTo: null });
    expect(t.hosts.last('volume.create')).toEqual({ volumeId: made.json.id, sizeMib: 1024 });
    expect((await t.api('GET', '/v1/volumes', undefined, acme)).json.volumes.map((v: { name: string }) => v.name)).toEqual(['db']);
    expect((await t.api('GET', `/v1/volumes/${made.json.id}`, undefined, acme)).json.name).toBe('db');
    expect((await t.api('GET', '/v1/volumes/db', undefined, acme)).json.id).toBe(made.json.id);
  });

  it('refuses bad input naming the field, and a taken name with 409', async () => {
    expect((await t.api('POST', '/v1/volumes', { name: '-bad' }, acme)).json.error.field).toBe('body.name');
    const small = await t.api('POST', '/v1/volumes', { name: 'small', sizeMib: 1 }, acme);
    expect(small.status).toBe(400);
    expect(small.json.error.field).toBe('body.sizeMib');
    const dup = await t.api('POST', '/v1/volumes', { name: 'db' }, acme);
    expect(dup.status).toBe(409);
    expect(dup.json.error.field).toBe('name');
  });

  it('leaves no row when the host fails to make the disk', async () => {
    t.hosts.onVolumeCreate = () => { throw new ForkdError('ERR_INTERNAL', 'mke2fs failed'); };
    try {
      const failed = await t.api('POST', '/v1/volumes', { name: 'broken' }, acme);
      expect(failed.status).toBe(500);
      expect((await t.api('GET', '/v1/volumes/broken', undefined, acme)).status).toBe(404);
      expect(await t.database.prisma.volume.count({ where: { name: 'broken' } })).toBe(0);
    } finally {
      t.hosts.onVolumeCreate = () => ({ created: true });
    }
    // Positive control: the same name works once the host does.
    expect((await t.api('POST', '/v1/volumes', { name: 'broken' }, acme)).status).toBe(201);
    expect((await t.api('DELETE', '/v1/volumes/broken', undefined, acme)).status).toBe(200);
  });

  it('counts sizes against FORKD_VOLUME_MIB_PER_TENANT (65536 MiB by default)', async () => {
    const big = await t.api('POST', '/v1/volumes', { name: 'big', sizeMib: 65536 }, acme);
    expect(big.status).toBe(429);
    expect(big.json.error).toMatchObject({ code: 'ERR_QUOTA', field: 'sizeMib' });
    expect((await t.api('POST', '/v1/volumes', { name: 'big', sizeMib: 4096 }, acme)).status).toBe(201);
    expect((await t.api('DELETE', '/v1/volumes/big', undefined, acme)).status).toBe(200);
  });

  it('hides a volume from another tenant (404 by name and by id), who may have its own of the same name', async () => {
    const id = (await t.api('GET', '/v1/volumes/db', undefined, acme)).json.id as string;
    for (const ref of ['db', id]) {
      expect((await t.api('GET', `/v1/volumes/${ref}`, undefined, globex)).status).toBe(404);
      expect((await t.api('DELETE', `/v1/volumes/${ref}`, undefined, globex)).status).toBe(404);
    }
    expect((await t.api('GET', '/v1/volumes', undefined, globex)).json.volumes).toEqual([]);
    const theirs = await t.api('POST', '/v1/volumes', { name: 'db' }, globex);
    expect(theirs.status).toBe(201);
    expect(theirs.json.id).not.toBe(id);
  });
});

describe('volumes of a container', () => {
  it('sends the mounts to the host, records them, and claims the volume for the container', async () => {
    const c = await run([{ volume: 'db', path: '/var/lib/db' }], acme, 'one');
    expect(c.status, JSON.stringify(c.json)).toBe(201);
    const vol = (await t.api('GET', '/v1/volumes/db', undefined, acme)).json;
    expect(t.hosts.last('container.create').volumes).toEqual([{ volumeId: vol.id, name: 'db', path: '/var/lib/db', readOnly: false }]);
    expect(c.json.volumes).toEqual([{ volumeId: vol.id, name: 'db', path: '/var/lib/db', readOnly: false }]);
    expect(vol.attachedTo).toMatchObject({ containerId: c.json.id, containerName: 'one' });
  });

  it('refuses a second user of a held volume with 409 naming it and the holder, and a delete of it', async () => {
    const second = await run([{ volume: 'db', path: '/data', readOnly: true }], acme, 'two');
    expect(second.status).toBe(409);
    expect(second.json.error.message).toMatch(/volume db is in use by container one/);
    expect(second.json.error.field).toBe('volumes[0].volume');
    expect((await t.api('GET', '/v1/containers/two', undefined, acme)).status).toBe(404);
    const del = await t.api('DELETE', '/v1/volumes/db', undefined, acme);
    expect(del.status).toBe(409);
    expect(del.json.error.message).toMatch(/container one/);
  });

  it('frees the claim when the holder is removed, and when its VM ended (lost)', async () => {
    expect((await t.api('DELETE', '/v1/containers/one?force=true', undefined, acme)).status).toBe(200);
    expect((await t.api('GET', '/v1/volumes/db', undefined, acme)).json.attachedTo).toBeNull();
    const three = await run([{ volume: 'db', path: '/data' }], acme, 'three');
    expect(three.status).toBe(201);
    // The reconciler marks a VM its host no longer runs `lost`: its claim no longer holds.
    await t.database.prisma.vm.update({ where: { id: three.json.vm.id }, data: { state: 'lost' } });
    expect((await t.api('GET', '/v1/volumes/db', undefined, acme)).json.attachedTo).toBeNull();
    expect((await run([{ volume: 'db', path: '/data' }], acme, 'four')).status).toBe(201);
  });

  it('makes a volume that does not exist yet (like docker run -v), on the container\'s host', async () => {
    const c = await run([{ volume: 'fresh', path: '/f' }], acme, 'five');
    expect(c.status).toBe(201);
    const vol = (await t.api('GET', '/v1/volumes/fresh', undefined, acme)).json;
    expect(vol).toMatchObject({ name: 'fresh', sizeMib: 1024, hostId: c.json.vm.hostId });
  });

  it('validates the mounts, naming the entry and field', async () => {
    const cases: Array<[unknown, string]> = [
      [[{ volume: 'x', path: 'rel' }], 'volumes[0].path'],
      [[{ volume: 'x', path: '/a/../b' }], 'volumes[0].path'],
      [[{ volume: 'x', path: '/' }], 'volumes[0].path'],
      [[{ volume: 'x', path: '/a' }, { volume: 'y', path: '/a' }], 'volumes[1].path'],
      [[{ volume: '../x', path: '/a' }], 'volumes[0].volume'],
    ];
    for (const [volumes, field] of cases) {
      const r = await run(volumes, acme);
      expect(r.status, JSON.stringify(volumes)).toBe(400);
      expect(r.json.error.field).toBe(field);
    }
    expect(await t.database.prisma.volume.count({ where: { name: { in: ['x', 'y'] } } })).toBe(0);
  });

  it('never mounts another tenant\'s volume: its id names a new volume of the caller\'s own', async () => {
    const acmeDb = (await t.api('GET', '/v1/volumes/db', undefined, acme)).json;
    const c = await run([{ volume: acmeDb.id, path: '/x' }], globex, 'g1');
    expect(c.status).toBe(201);
    expect(c.json.volumes[0].volumeId).not.toBe(acmeDb.id);
    expect((await t.api('GET', '/v1/volumes/db', undefined, acme)).json).toEqual(acmeDb);
  });

  it('publishes a create and a destroy event for a volume, and none for a refused create', async () => {
    const made = await t.api('POST', '/v1/volumes', { name: 'evented' }, acme);
    expect(made.status).toBe(201);
    expect((await t.api('POST', '/v1/volumes', { name: 'evented' }, acme)).status).toBe(409);
    expect((await t.api('DELETE', '/v1/volumes/evented', undefined, acme)).status).toBe(200);
    const seen: string[] = [];
    for await (const e of readEvents(t.redis, { tenantId: 'all', since: 0, follow: false, filters: { type: ['volume'] } })) {
      if (e.actor.id === made.json.id) seen.push(`${e.action} ${e.actor.name}`);
    }
    expect(seen).toEqual(['create evented', 'destroy evented']);
  });
});
