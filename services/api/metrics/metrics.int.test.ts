// GET /metrics on the real API (fake hosts): the Prometheus text format, for
// an admin key only; request counts by route pattern move with requests; the
// queues of each host are there; a host's snapshot in Redis is merged in, and
// once gone (expired) it is not.
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_METRICS_TTL_MS, hostMetricsKey } from '../../contracts/metrics.js';
import { parsePrometheusText, sampleValue } from '../../contracts/prom-text.js';
import { TEST_HOST, startTestApi, type TestApi } from '../test-api.js';

let t: TestApi;
let tenantKey: string;

beforeAll(async () => {
  t = await startTestApi('metrics');
  tenantKey = await t.tenant('acme');
});

afterAll(async () => { await t?.stop(); });

async function scrape() {
  const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${t.adminKey}` } });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(res.body);
}

describe('GET /metrics', () => {
  it('answers an admin key; a tenant key gets 403 and no key 401', async () => {
    expect((await t.api('GET', '/metrics', undefined, tenantKey)).status).toBe(403);
    expect((await t.api('GET', '/metrics', undefined, null)).status).toBe(401);
    await scrape();
  });

  it('counts requests by route pattern and status, never by raw URL', async () => {
    const before = sampleValue(await scrape(), 'forkd_api_requests_total', { method: 'GET', route: '/v1/containers/:id', status: '404' });
    for (const id of ['nope-1', 'nope-2']) expect((await t.api('GET', `/v1/containers/${id}`)).status).toBe(404);
    const f = await scrape();
    expect(sampleValue(f, 'forkd_api_requests_total', { method: 'GET', route: '/v1/containers/:id', status: '404' })).toBe(before + 2);
    expect(f.get('forkd_api_request_duration_seconds')?.type).toBe('histogram');
    const routes = f.get('forkd_api_requests_total')!.samples.map((s) => s.labels['route']);
    expect(routes.filter((r) => r?.includes('nope'))).toEqual([]);
  });

  it('has each host\'s queue depth and age, and whether it is up', async () => {
    const f = await scrape();
    for (const queue of ['jobs', 'streams']) {
      expect(f.get('forkd_queue_jobs')!.samples.some((s) => s.labels['host'] === TEST_HOST && s.labels['queue'] === queue && s.labels['state'] === 'waiting')).toBe(true);
      expect(f.get('forkd_queue_oldest_waiting_seconds')!.samples.some((s) => s.labels['host'] === TEST_HOST && s.labels['queue'] === queue)).toBe(true);
    }
    expect(f.get('forkd_host_up')).toBeDefined();
  });

  it('merges in each host\'s snapshot from Redis while it is fresh', async () => {
    const host = new Registry();
    host.setDefaultLabels({ host: 'h-snap' });
    new Counter({ name: 'forkd_container_starts_total', help: 'starts', registers: [host] }).inc(7);
    await t.redis.set(hostMetricsKey('h-snap'), JSON.stringify(await host.getMetricsAsJSON()), 'PX', HOST_METRICS_TTL_MS);
    expect(sampleValue(await scrape(), 'forkd_container_starts_total', { host: 'h-snap' })).toBe(7);
    await t.redis.del(hostMetricsKey('h-snap')); // what its expiry does when the host stops writing
    expect(sampleValue(await scrape(), 'forkd_container_starts_total', { host: 'h-snap' })).toBe(0);
  });
});
