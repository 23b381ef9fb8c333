// Auth is structure: every route the server registered (collected by its
// onRoute hook, never a hand list) is walked with no key, wrong keys, encoded
// spellings of its path and another tenant's key against the first tenant's
// resources. The real API on a real SQLite and a private Redis; hostd is a
// fake (test-api.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_PATH } from './metrics/routes.js';
import { isPublicRoute, type RegisteredRoute } from './server.js';
import { startTestApi, type TestApi } from './test-api.js';

let t: TestApi;
let acmeKey: string;
let globexKey: string;
let revokedKey: string;
/** acme's resources (and one spare key of the admin's), by the path that names them. */
const ids: Record<string, string> = {};

const NO_KEY = null;
const WRONG_KEYS = () => ({ unknown: 'fk_0000000000000000000000000000000000000000', revoked: revokedKey, empty: '' });
const ADMIN_ONLY = /^\/v1\/(tenants|keys|admin)(\/|$)/;

/** Bodies that pass a route's schema, so the handler (and its tenancy check) is what answers. */
const VALID_BODIES: Record<string, unknown> = {
  'POST /v1/containers/:id/exec': { command: ['true'] },
  'PATCH /v1/templates/:id': { poolSize: 1 },
  'POST /v1/images/:id/tag': { ref: 'renamed:1' },
  'POST /v1/containers/:id/snapshot': { name: 'auth-snap' },
  'POST /v1/pods/:id/snapshot': { name: 'auth-pod-snap' },
};

/** Queries that pass a route's schema (appended to its path). */
const VALID_QUERIES: Record<string, string> = {
  'POST /v1/containers/:id/resize': '?h=24&w=80',
};

/** The first message each WebSocket route takes (never the URL); the exec socket's by default. */
const WS_STARTS: Record<string, unknown> = {
  '/v1/containers/:id/attach': { type: 'start' },
};

const routes = (): RegisteredRoute[] => t.app.forkdRoutes.filter((r) => !isPublicRoute(r.url));
const name = (r: RegisteredRoute) => `${r.method} ${r.url}`;

/** The route's path with its :id filled in from `ids` (by the path before the id). */
function pathOf(r: RegisteredRoute): string {
  return r.url.replace(/^(.*?)\/:id/, (_, base: string) => {
    const id = ids[base];
    if (!id) throw new Error(`${name(r)}: this test has no resource for ${base}/:id; make one in beforeAll`);
    return `${base}/${id}`;
  });
}

async function send(r: RegisteredRoute, url: string, key: string | null, body: unknown = VALID_BODIES[name(r)] ?? {}): Promise<number> {
  const res = await t.app.inject({
    method: r.method as 'GET', url: url + (VALID_QUERIES[name(r)] ?? ''),
    ...(key === null ? {} : { headers: { authorization: `Bearer ${key}` } }),
    ...(body === undefined || r.method === 'GET' || r.method === 'HEAD' ? {} : { payload: body as object }),
  });
  return res.statusCode;
}

/** The first message a WebSocket route sends to `key` (its error, when it refuses). */
async function firstWsMessage(r: RegisteredRoute, url: string, key: string): Promise<string> {
  let resolve!: (m: string) => void;
  const got = new Promise<string>((r) => { resolve = r; });
  const ws = await t.app.injectWS(url, { headers: { authorization: `Bearer ${key}` } }, { onInit: (s) => s.on('message', (m) => resolve(m.toString())) });
  ws.send(JSON.stringify(WS_STARTS[r.url] ?? { type: 'start', cmd: ['true'] })); // the socket's first message (never the URL)
  try {
    return await got;
  } finally {
    ws.terminate();
  }
}

beforeAll(async () => {
  t = await startTestApi('auth');
  acmeKey = await t.tenant('acme');
  globexKey = await t.tenant('globex');
  const spare = await t.api('POST', '/v1/keys', { tenant: 'acme', name: 'to revoke' });
  revokedKey = spare.json.key;
  expect((await t.api('DELETE', `/v1/keys/${spare.json.id}`)).status).toBe(200);
  ids['/v1/keys'] = (await t.api('POST', '/v1/keys', { name: 'spare admin key' })).json.id;

  ids['/v1/images'] = await t.uploadImage(acmeKey);
  const net = await t.api('POST', '/v1/networks', { name: 'acme-net' }, acmeKey);
  expect(net.status, JSON.stringify(net.json)).toBe(201);
  ids['/v1/networks'] = net.json.id;
  const vol = await t.api('POST', '/v1/volumes', { name: 'acme-vol' }, acmeKey);
  expect(vol.status, JSON.stringify(vol.json)).toBe(201);
  ids['/v1/volumes'] = vol.json.id;
  const accepted = await t.api('POST', '/v1/containers', { image: 'busybox', boot: 'cold', command: ['sleep', '1000'] }, acmeKey);
  expect(accepted.status, JSON.stringify(accepted.json)).toBe(202);
  ids['/v1/operations'] = accepted.json.operation.id;
  const c = await t.settle(accepted, acmeKey);
  expect(c.status, JSON.stringify(c.json)).toBe(201);
  ids['/v1/containers'] = c.json.id;
  const tpl = await t.create('POST', '/v1/templates', { image: ids['/v1/images'] }, acmeKey);
  expect(tpl.status, JSON.stringify(tpl.json)).toBe(201);
  ids['/v1/templates'] = tpl.json.id;
  const vm = await t.api('POST', '/v1/vms', { template: tpl.json.id }, acmeKey);
  expect(vm.status, JSON.stringify(vm.json)).toBe(201);
  ids['/v1/vms'] = vm.json.id;
  const pod = await t.create('POST', '/v1/pods', { name: 'acme-pod' }, acmeKey);
  expect(pod.status, JSON.stringify(pod.json)).toBe(201);
  ids['/v1/pods'] = pod.json.id;
  // A desktop needs a running session (a real guest): a row still being created is enough to walk its routes.
  const acmeTenant = await t.database.prisma.tenant.findUniqueOrThrow({ where: { name: 'acme' } });
  ids['/v1/desktops'] = (await t.database.prisma.desktop.create({ data: { id: 'auth-desktop', tenantId: acmeTenant.id, templateId: 'none', width: 1280, height: 800 } })).id;
}, 120_000);

afterAll(async () => { await t?.stop(); });

describe('the route walk', () => {
  it('sees every route the server registered: all but the public ones under /v1', () => {
    const all = t.app.forkdRoutes.map(name);
    expect(all).toEqual(expect.arrayContaining(['GET /healthz', 'GET /v1/info', 'POST /v1/containers', 'GET /v1/containers/:id/exec', 'PATCH /v1/templates/:id', 'DELETE /v1/keys/:id']));
    expect(routes().length).toBeGreaterThan(25);
    // /metrics is the one API-key route outside /v1 (Prometheus expects that path; admin key only);
    // /internal/ is for hosts (a host credential, never a key: docs/multi-host.md).
    expect(routes().filter((r) => !r.url.startsWith('/v1/') && !r.url.startsWith('/internal/') && r.url !== METRICS_PATH).map(name)).toEqual([]);
  });

  it('refuses a valid tenant or admin key on the hosts\' /internal routes', async () => {
    const internal = routes().filter((r) => r.url.startsWith('/internal/'));
    expect(internal.filter((r) => r.method !== 'HEAD').map(name)).toEqual(['GET /internal/blobs/:digest']);
    const digest = `sha256:${'0'.repeat(64)}`;
    for (const k of [acmeKey, t.adminKey]) expect((await t.api('GET', `/internal/blobs/${digest}`, undefined, k)).status).toBe(401);
    // Positive control: the same keys reach /v1.
    expect((await t.api('GET', '/v1/info', undefined, acmeKey)).status).toBe(200);
  });
});

describe('without a valid key', () => {
  it('every route but the public ones answers 401 with no key, an unknown, a revoked or an empty key', async () => {
    const wrong: string[] = [];
    for (const r of routes()) {
      const url = pathOf(r);
      for (const [label, key] of [['no key', NO_KEY], ...Object.entries(WRONG_KEYS())] as Array<[string, string | null]>) {
        const status = await send(r, url, key);
        if (status !== 401) wrong.push(`${name(r)} with ${label}: ${status}`);
      }
    }
    expect(wrong).toEqual([]);
    // Positive control: the public route answers without a key, and the same walk's key check lets the right key through.
    expect((await t.api('GET', '/healthz', undefined, NO_KEY)).status).toBe(200);
    expect((await t.api('GET', '/v1/info', undefined, acmeKey)).status).toBe(200);
  });

  it('encoded and doubled-slash spellings of every path are no way around it', async () => {
    const wrong: string[] = [];
    for (const r of routes().filter((x) => x.url.startsWith('/v1/'))) {
      const url = pathOf(r);
      const second = url.slice('/v1/'.length);
      const hex = (ch: string) => `%${ch.charCodeAt(0).toString(16)}`;
      // The router decodes these back to the route: exactly 401.
      const decoded = [`/${hex('v')}1/${second}`, `/%56${''}1/${second}`.replace('%56', hex('v').toUpperCase()), `/v1/${hex(second[0]!)}${second.slice(1)}`, `/${hex('v')}${hex('1')}/${hex(second[0]!)}${second.slice(1)}`];
      // These the router may not route at all: 401 or 404, never an answer.
      const doubled = [`/${url}`, url.replace('/v1/', '/v1//'), `${url}/`];
      for (const u of decoded) {
        const status = await send(r, u, NO_KEY);
        if (status !== 401) wrong.push(`${r.method} ${u}: ${status}`);
      }
      for (const u of doubled) {
        const status = await send(r, u, NO_KEY);
        if (status !== 401 && status !== 404) wrong.push(`${r.method} ${u}: ${status}`);
      }
    }
    expect(wrong).toEqual([]);
    // Positive control: the encoded path really reaches the route (the right key gets the answer).
    expect((await t.api('GET', '/%761/info', undefined, acmeKey)).status).toBe(200);
    expect((await t.api('GET', '/v1/%69nfo', undefined, acmeKey)).status).toBe(200);
  });
});

describe('another tenant\'s key', () => {
  it('never sees the first tenant\'s resources in its lists, nor reaches them by reference in a body', async () => {
    const lists = ['/v1/containers?all=true', '/v1/images', '/v1/networks', '/v1/templates', '/v1/vms'];
    const acmeIds = () => Object.entries(ids).filter(([base]) => base !== '/v1/keys').map(([, id]) => id);
    for (const url of lists) {
      const theirs = JSON.stringify((await t.api('GET', url, undefined, globexKey)).json);
      for (const id of acmeIds()) expect(theirs, `${url} shows ${id}`).not.toContain(id);
    }
    expect((await t.api('POST', '/v1/vms', { template: ids['/v1/templates'] }, globexKey)).status).toBe(404);
    expect((await t.create('POST', '/v1/containers', { image: ids['/v1/images'], boot: 'cold', command: ['true'] }, globexKey)).status).toBe(404);
    expect((await t.create('POST', '/v1/containers', { image: 'busybox', boot: 'cold', command: ['true'], network: ids['/v1/networks'] }, globexKey)).status).toBe(404);
    // Positive control: the owner sees them in the same lists.
    const mine = JSON.stringify(await Promise.all(lists.map(async (url) => (await t.api('GET', url, undefined, acmeKey)).json)));
    expect(mine).toContain(ids['/v1/images']);
    expect(mine).toContain(ids['/v1/networks']);
  });

  // Last: its positive control deletes the owner's resources.
  it('gets 404 for every route on the first tenant\'s ids, and 403 on every admin route; the owner gets through', async () => {
    const wrong: string[] = [];
    const owner: Array<{ r: RegisteredRoute; url: string }> = [];
    for (const r of routes()) {
      const url = pathOf(r);
      if (ADMIN_ONLY.test(r.url)) {
        const status = await send(r, url, globexKey);
        if (status !== 403) wrong.push(`${name(r)}: ${status}, not 403`);
        continue;
      }
      if (!r.url.includes(':id')) continue;
      owner.push({ r, url });
      if (r.websocket) {
        const msg = await firstWsMessage(r, url, globexKey);
        if (!msg.includes('ERR_NOT_FOUND')) wrong.push(`${name(r)} (WebSocket): ${msg}`);
        continue;
      }
      const status = await send(r, url, globexKey);
      if (status !== 404) wrong.push(`${name(r)}: ${status}, not 404`);
    }
    expect(wrong).toEqual([]);

    // Positive control: the owner's key on the same ids is neither 401 nor 404 (deletes last, so the ids live until then).
    owner.sort((a, b) => Number(a.r.method === 'DELETE') - Number(b.r.method === 'DELETE'));
    const refused: string[] = [];
    for (const { r, url } of owner) {
      if (r.websocket) {
        const msg = await firstWsMessage(r, url, acmeKey);
        if (msg.includes('ERR_NOT_FOUND') || msg.includes('ERR_UNAUTHORIZED')) refused.push(`${name(r)} (WebSocket): ${msg}`);
        continue;
      }
      const status = await send(r, url, acmeKey);
      if (status === 401 || status === 404) refused.push(`${name(r)}: ${status}`);
    }
    expect(refused).toEqual([]);
    expect(await send({ method: 'GET', url: '/v1/tenants', websocket: false }, '/v1/tenants', t.adminKey)).toBe(200);
  });
});
