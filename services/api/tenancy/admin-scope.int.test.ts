// Admin across tenants (scope.ts): with two tenants each holding a container
// named `web`, a network named `app` and a forked VM, the admin key lists the
// default tenant's by default, one tenant's with ?tenant=<id|name>, every
// tenant's with ?allTenants=true, and acts on any tenant's by id (by name, on
// its own tenant's or ?tenant='s). Tenant keys may do none of this. The
// real API on SQLite and Redis; hostd is a fake (test-api.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../test-api.js';

let t: TestApi;
const key: Record<'acme' | 'globex', string> = { acme: '', globex: '' };
const web: Record<'acme' | 'globex', string> = { acme: '', globex: '' };
const tenantId: Record<'acme' | 'globex', string> = { acme: '', globex: '' };
const vm: Record<'acme' | 'globex', string> = { acme: '', globex: '' };

beforeAll(async () => {
  t = await startTestApi('admin-scope');
  for (const name of ['acme', 'globex'] as const) {
    key[name] = await t.tenant(name);
    await t.uploadImage(key[name]);
    const c = await t.create('POST', '/v1/containers', { image: 'busybox', command: ['true'], name: 'web', boot: 'cold' }, key[name]);
    expect(c.status, JSON.stringify(c.json)).toBe(201);
    web[name] = c.json.id;
    tenantId[name] = c.json.tenantId;
    expect((await t.api('POST', '/v1/networks', { name: 'app' }, key[name])).status).toBe(201);
  }
  const base = await t.create('POST', '/v1/templates', {});
  expect(base.status).toBe(201);
  for (const name of ['acme', 'globex'] as const) {
    const v = await t.api('POST', '/v1/vms', { template: base.json.id }, key[name]);
    expect(v.status, JSON.stringify(v.json)).toBe(201);
    vm[name] = v.json.id;
  }
}, 120_000);

afterAll(async () => { await t?.stop(); });

const ids = (list: Array<{ id: string }>) => list.map((x) => x.id).sort();
/** The bare VMs (forked with POST /v1/vms): every container has a VM of its own too. */
const bare = (list: Array<{ id: string; containers: number }>) => ids(list.filter((v) => v.containers === 0));

describe('lists', () => {
  it('an admin key lists the default tenant\'s by default (none here), every tenant\'s with allTenants', async () => {
    expect((await t.api('GET', '/v1/containers?all=true')).json.containers).toEqual([]);
    const all = await t.api('GET', '/v1/containers?all=true&allTenants=true');
    expect(ids(all.json.containers)).toEqual([web.acme, web.globex].sort());
    expect(all.json.containers.map((c: { tenantId: string }) => c.tenantId).sort()).toEqual([tenantId.acme, tenantId.globex].sort());
    expect(bare((await t.api('GET', '/v1/vms?allTenants=true')).json.vms)).toEqual([vm.acme, vm.globex].sort());
    const nets = (await t.api('GET', '/v1/networks?allTenants=true')).json.networks as Array<{ name: string; tenantId: string }>;
    expect(nets.filter((n) => n.name === 'app').map((n) => n.tenantId).sort()).toEqual([tenantId.acme, tenantId.globex].sort());
  });

  it('an admin key lists one tenant\'s with ?tenant=, by name or id', async () => {
    expect(ids((await t.api('GET', '/v1/containers?all=true&tenant=acme')).json.containers)).toEqual([web.acme]);
    expect(ids((await t.api('GET', `/v1/containers?all=true&tenant=${tenantId.globex}`)).json.containers)).toEqual([web.globex]);
    expect(bare((await t.api('GET', '/v1/vms?tenant=globex')).json.vms)).toEqual([vm.globex]);
    const r = await t.api('GET', '/v1/containers?tenant=nosuch');
    expect(r.status).toBe(404);
    expect(r.json.error.field).toBe('tenant');
  });

  it('a tenant key lists only its own, and may not name a tenant or ask for all', async () => {
    expect(ids((await t.api('GET', '/v1/containers?all=true', undefined, key.acme)).json.containers)).toEqual([web.acme]);
    for (const q of ['tenant=globex', 'tenant=acme', 'allTenants=true']) {
      const r = await t.api('GET', `/v1/containers?${q}`, undefined, key.acme);
      expect(r.status, q).toBe(403);
      expect(r.json.error.code).toBe('ERR_FORBIDDEN');
    }
  });
});

describe('by id', () => {
  it('an admin key reads any tenant\'s container, VM and network by id; the tenant key of another gets 404', async () => {
    expect((await t.api('GET', `/v1/containers/${web.globex}`)).json.tenantId).toBe(tenantId.globex);
    expect((await t.api('GET', `/v1/vms/${vm.acme}`)).json.tenantId).toBe(tenantId.acme);
    const globexApp = ((await t.api('GET', '/v1/networks?tenant=globex')).json.networks as Array<{ id: string; name: string }>).find((n) => n.name === 'app')!;
    expect((await t.api('GET', `/v1/networks/${globexApp.id}`)).status).toBe(200);
    expect((await t.api('GET', `/v1/containers/${web.globex}`, undefined, key.acme)).status).toBe(404);
  });

  it('by name (names are per tenant) an admin key means its own tenant\'s, or the one ?tenant= names', async () => {
    expect((await t.api('GET', '/v1/containers/web')).status).toBe(404); // the default tenant has no `web`
    expect((await t.api('GET', '/v1/containers/web?tenant=acme')).json.id).toBe(web.acme);
    expect((await t.api('GET', '/v1/containers/web?tenant=globex')).json.id).toBe(web.globex);
  });

  it('an admin key stops and removes another tenant\'s container and VM by id', async () => {
    expect((await t.api('DELETE', `/v1/containers/${web.globex}?force=true`)).status).toBe(200);
    expect(ids((await t.api('GET', '/v1/containers?all=true', undefined, key.globex)).json.containers)).toEqual([]);
    expect((await t.api('DELETE', `/v1/vms/${vm.globex}`)).status).toBe(200);
    expect(bare((await t.api('GET', '/v1/vms', undefined, key.globex)).json.vms)).toEqual([]);
    // The control: acme's are untouched.
    expect(ids((await t.api('GET', '/v1/containers?all=true', undefined, key.acme)).json.containers)).toEqual([web.acme]);
  });
});
