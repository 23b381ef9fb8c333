// Closing the API server ends a connected event follower: without that, a
// follower that never leaves would hold the server's close (and a restart) forever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishEvent } from '../../contracts/events/index.js';
import { startTestApi, type TestApi } from '../test-api.js';

describe('GET /v1/events when the server closes', () => {
  let t: TestApi;
  beforeAll(async () => { t = await startTestApi('events-close'); });
  afterAll(async () => { await t?.stop(); });

  it('ends the follower, after delivering what it was following, and lets the close finish', async () => {
    const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    const reader = res.body!.getReader();
    let text = '';

    // Positive control: the follower is live and receives an event published while it follows.
    await publishEvent(t.redis, { type: 'container', action: 'create', tenantId: 'default', actor: { id: 'c-close-test', attributes: {} } });
    while (!text.includes('c-close-test')) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += Buffer.from(chunk.value).toString();
    }
    expect(text).toContain('c-close-test');

    await t.app.close(); // hangs (and the test times out) if the follower keeps its socket
    expect((await reader.read()).done).toBe(true);
  }, 20_000);
});
