import { describe, expect, it } from 'vitest';

import { Connection, eventLoop } from './index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('libvirt event loop', () => {
  it('runs only while a subscription or keepalive needs it, and idles without spinning', async () => {
    const conn = await Connection.open('qemu:///system', { keepAlive: false });
    await eventLoop.whenIdle();
    expect(eventLoop.stats.running).toBe(false);

    const unsubscribe = await conn.onLifecycle(() => {});
    expect(eventLoop.stats.running).toBe(true);
    const before = eventLoop.stats.iterations;
    await sleep(1000);
    const idleIterations = eventLoop.stats.iterations - before;
    console.log(`idle event loop: ${idleIterations} iterations in 1 s`);
    expect(idleIterations).toBeLessThan(10);

    await unsubscribe();
    await unsubscribe(); // idempotent
    await eventLoop.whenIdle();
    expect(eventLoop.stats).toMatchObject({ running: false, refs: 0 });

    const withKeepAlive = await Connection.open();
    expect(eventLoop.stats.running).toBe(true);
    await withKeepAlive.close();
    await eventLoop.whenIdle();
    expect(eventLoop.stats.running).toBe(false);
    await conn.close();
  });

  it('drops subscriptions when their connection closes', async () => {
    const conn = await Connection.open('qemu:///system', { keepAlive: false });
    await conn.onLifecycle(() => {});
    await conn.onLifecycle(() => {});
    expect(eventLoop.stats.refs).toBe(1); // one libvirt registration per connection
    await conn.close();
    await eventLoop.whenIdle();
    expect(eventLoop.stats).toMatchObject({ running: false, refs: 0 });
    await expect(conn.getVersion()).rejects.toMatchObject({ codeName: 'VIR_ERR_INVALID_CONN' });
  });
});
