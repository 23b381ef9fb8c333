import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ledgerSize } from './call.js';
import { Connection, eventLoop } from './index.js';
import { removeDomain, testDomainName, tinyDomainXml } from './testing.js';

const MiB = 1024 * 1024;

describe('handles, strings and errors are released', () => {
  let conn: Connection;
  const name = testDomainName('leak');

  beforeAll(async () => {
    conn = await Connection.open();
    const dom = await conn.defineDomain(tinyDomainXml(name));
    await dom.free();
  });

  afterAll(async () => {
    await removeDomain(conn, name);
    await conn?.close();
  });

  // One cycle: lookup + getState + getXMLDesc + free, a failing lookup (error
  // copy), and every 10th cycle a whole connection open/version/close (every
  // 50th with keepalive, which starts and stops the event loop).
  let opens = 0;
  let openCloseMs = 0;
  async function cycle(i: number): Promise<void> {
    const dom = await conn.lookupDomainByName(name);
    if (dom === null) throw new Error('test domain vanished');
    await dom.getState();
    await dom.getXMLDesc();
    await dom.free();
    if ((await conn.lookupDomainByName(`${name}-missing`)) !== null) throw new Error('unexpected domain');
    if (i % 10 === 0) {
      const t0 = performance.now();
      const c = await Connection.open('qemu:///system', { keepAlive: i % 50 === 0 ? undefined : false });
      await c.getVersion();
      await c.close();
      openCloseMs += performance.now() - t0;
      opens++;
    }
  }

  it('keeps RSS growth small over 1,000 open-lookup-free cycles', async () => {
    for (let i = 0; i < 200; i++) await cycle(i); // warm-up: pools, JIT, koffi async memory
    opens = 0;
    openCloseMs = 0;
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) await cycle(i);
    const ms = performance.now() - t0;
    const after = process.memoryUsage().rss;
    const growth = (after - before) / MiB;
    console.log(
      `1000 cycles (${ms.toFixed(0)} ms; ${opens} connection open+version+close, ${(openCloseMs / opens).toFixed(2)} ms each): RSS ${(before / MiB).toFixed(1)} -> ${(after / MiB).toFixed(1)} MiB, growth ${growth.toFixed(1)} MiB; ledger ${JSON.stringify(ledgerSize())}; loop ${JSON.stringify(eventLoop.stats)}`,
    );
    expect(growth).toBeLessThan(30);
    expect(ledgerSize()).toEqual({ entries: 0, inFlight: 0 });
  });
});
