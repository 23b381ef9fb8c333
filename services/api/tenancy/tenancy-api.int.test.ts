// The tenancy rules (policy.ts) as the API applies them: template visibility,
// who may resize or delete, the VM quota for containers and bare VMs under
// parallel creates, and which host ports a tenant may publish. The real API
// on a real SQLite and a private Redis; hostd is a fake (test-api.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../test-api.js';

let t: TestApi;
let acmeKey: string;
let globexKey: string;
let sharedTemplate: string;
let acmeTemplate: string;

beforeAll(async () => {
  t = await startTestApi('tenancy');
  acmeKey = await t.tenant('acme');
  globexKey = await t.tenant('globex');
  const shared = await t.create('POST', '/v1/templates', {}); // the admin's: a shared base
  expect(shared.status, JSON.stringify(shared.json)).toBe(201);
  sharedTemplate = shared.json.id;
  const image = await t.uploadImage(acmeKey);
  const own = await t.create('POST', '/v1/templates', { image }, acmeKey);
  expect(own.status, JSON.stringify(own.json)).toBe(201);
  acmeTemplate = own.json.id;
}, 120_000);

afterAll(async () => { await t?.stop(); });

const idsOf = (res: { json: { templates: Array<{ id: string }> } }) => res.json.templates.map((x) => x.id).sort();

describe('templates', () => {
  it('a tenant lists its own and the shared ones, never another tenant\'s; the admin lists all', async () => {
    expect(idsOf(await t.api('GET', '/v1/templates', undefined, acmeKey))).toEqual([acmeTemplate, sharedTemplate].sort());
    expect(idsOf(await t.api('GET', '/v1/templates', undefined, globexKey))).toEqual([sharedTemplate]);
    expect(idsOf(await t.api('GET', '/v1/templates'))).toEqual([acmeTemplate, sharedTemplate].sort());
    expect((await t.api('GET', `/v1/templates/${acmeTemplate}`, undefined, globexKey)).status).toBe(404);
    expect((await t.api('GET', `/v1/templates/${sharedTemplate}`, undefined, globexKey)).status).toBe(200);
  });

  it('a shared template is read-only to tenants: resize and delete are 403; the owner and the admin may', async () => {
    for (const [method, body] of [['PATCH', { poolSize: 256 }], ['DELETE', undefined]] as const) {
      const r = await t.api(method, `/v1/templates/${sharedTemplate}`, body, globexKey);
      expect(r.status, method).toBe(403);
      expect(r.json.error).toMatchObject({ code: 'ERR_FORBIDDEN', field: 'id' });
    }
    expect((await t.api('PATCH', `/v1/templates/${acmeTemplate}`, { poolSize: 256 }, globexKey)).status).toBe(404);
    expect((await t.api('DELETE', `/v1/templates/${acmeTemplate}`, undefined, globexKey)).status).toBe(404);
    // Positive controls: the owner resizes its own, the admin a shared one; neither was deleted above.
    expect((await t.api('PATCH', `/v1/templates/${acmeTemplate}`, { poolSize: 2 }, acmeKey))).toMatchObject({ status: 200, json: { poolSize: 2 } });
    expect((await t.api('PATCH', `/v1/templates/${sharedTemplate}`, { poolSize: 1 })).json).toMatchObject({ poolSize: 1 });
    expect(idsOf(await t.api('GET', '/v1/templates'))).toEqual([acmeTemplate, sharedTemplate].sort());
  });

  it('only the admin builds a template without an image (it would be shared)', async () => {
    const r = await t.create('POST', '/v1/templates', { memoryMib: 512 }, globexKey);
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: 'ERR_FORBIDDEN', field: 'image' });
    // Positive control: the same body from the admin builds one.
    const ok = await t.create('POST', '/v1/templates', { memoryMib: 512 });
    expect(ok.status).toBe(201);
    expect((await t.api('DELETE', `/v1/templates/${ok.json.id}`)).status).toBe(200);
  });
});

describe('VM quota', () => {
  it('POST /v1/vms counts against the quota: 8 parallel forks against maxVms=2 give exactly 2 VMs', async () => {
    const key = await t.tenant('forker', { maxVms: 2 });
    const results = await Promise.all(Array.from({ length: 8 }, () => t.api('POST', '/v1/vms', { template: sharedTemplate }, key)));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 429, 429, 429, 429, 429, 429]);
    expect(results.find((r) => r.status === 429)!.json.error).toMatchObject({ code: 'ERR_QUOTA', field: 'maxVms' });
    // Positive control: removing one frees its place.
    const vm = results.find((r) => r.status === 201)!.json.id;
    expect((await t.api('DELETE', `/v1/vms/${vm}`, undefined, key)).status).toBe(200);
    expect((await t.api('POST', '/v1/vms', { template: sharedTemplate }, key)).status).toBe(201);
  });

  it('8 parallel container creates against maxVms=3 give exactly 3 containers', async () => {
    const key = await t.tenant('para', { maxVms: 3 });
    await t.uploadImage(key);
    expect((await t.api('GET', '/v1/networks', undefined, key)).status).toBe(200); // its default network, made once
    t.hosts.holdListHosts(8); // all 8 pass the early check before any inserts
    const results = await Promise.all(Array.from({ length: 8 }, () => t.create('POST', '/v1/containers', { image: 'busybox', boot: 'cold', command: ['sleep', '1000'] }, key)));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 201, 429, 429, 429, 429, 429]);
    expect((await t.api('GET', '/v1/containers', undefined, key)).json.containers).toHaveLength(3);
    // Positive control: another tenant still creates.
    expect((await t.create('POST', '/v1/containers', { image: 'busybox', boot: 'cold', command: ['sleep', '1000'] }, acmeKey)).status).toBe(201);
  });
});

describe('published ports', () => {
  const run = (key: string, hostPort: number) => t.create('POST', '/v1/containers', { image: 'busybox', boot: 'cold', command: ['sleep', '1000'], ports: [{ containerPort: 80, hostPort }] }, key);

  it('a tenant may not publish a host port below 1024; inside the range it may; the admin may publish any', async () => {
    for (const port of [22, 80, 1023]) {
      const r = await run(acmeKey, port);
      expect(r.status, String(port)).toBe(403);
      expect(r.json.error).toMatchObject({ code: 'ERR_FORBIDDEN', field: 'ports', detail: { hostPort: port, allowed: '1024-65535' } });
    }
    expect((await run(acmeKey, 18080)).status).toBe(201);
    await t.uploadImage(t.adminKey);
    expect((await run(t.adminKey, 80)).status).toBe(201);
  });
});
