// The OpenAPI document is the API: every /v1 route the server registered is in
// it (with its method), it is a valid OpenAPI 3.1 document by an independent
// validator, every error code it mentions is in the catalogue, and it and the
// /docs page answer without a key (served locally, nothing from a CDN).
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../contracts/errors.js';
import { startTestApi, type TestApi } from '../test-api.js';

let t: TestApi;
let doc: { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>> };

beforeAll(async () => {
  t = await startTestApi('openapi');
  const res = await t.api('GET', '/openapi.json', undefined, null);
  expect(res.status).toBe(200);
  doc = res.json;
});

afterAll(async () => { await t?.stop(); });

/** fastify's `/v1/containers/:id` is OpenAPI's `/v1/containers/{id}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('GET /openapi.json', () => {
  it('is OpenAPI 3.1 and valid by @seriousme/openapi-schema-validator', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const v = new Validator();
    const res = await v.validate(doc as never);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
  });

  it('has every registered /v1 route, with its method', () => {
    const routes = t.app.forkdRoutes.filter((r) => r.url.startsWith('/v1/') && r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(25);
    const missing = routes.filter((r) => !doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()]).map((r) => `${r.method} ${r.url}`);
    expect(missing).toEqual([]);
  });

  it('documents /v1/events and /healthz (public: no security), not itself or /docs', () => {
    expect(doc.paths['/v1/events']?.['get']).toBeDefined();
    expect(doc.paths['/healthz']?.['get']?.security).toEqual([]);
    expect(doc.paths['/v1/containers']?.['post']?.security).toBeUndefined(); // the document-wide bearer key applies
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/docs') || p === '/openapi.json')).toEqual([]);
  });

  it('mentions only error codes from the catalogue, and all of them', () => {
    const mentioned = new Set(JSON.stringify(doc).match(/ERR_[A-Z_]+/g) ?? []);
    expect([...mentioned].filter((c) => !Object.hasOwn(ERRORS, c))).toEqual([]);
    expect([...mentioned].sort()).toEqual(Object.keys(ERRORS).sort());
  });
});

describe('/docs', () => {
  it('serves the reference page and swagger-ui\'s files without a key, and nothing from another origin', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.filter((s) => /^(https?:)?\/\//.test(s))).toEqual([]);
    const bundle = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
  });

  it('is the only public prefix: a /v1 route still needs a key (the control)', async () => {
    expect((await t.api('GET', '/v1/containers', undefined, null)).status).toBe(401);
  });
});
