import { mkdtempSync, openSync, closeSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Connection, DomainModificationImpact, LibvirtError, MetadataType, type Domain, type LifecycleEvent } from './index.js';
import { removeDomain, testDomainName, tinyDomainXml } from './testing.js';

const FORKD_NS = 'https://forkd.dev/xmlns/domain/1';

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Count 5 ms interval ticks while `work` runs: proof the JS event loop stayed free. */
async function ticksDuring<T>(work: () => Promise<T>): Promise<{ result: T; ticks: number; ms: number }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const t0 = performance.now();
  try {
    const result = await work();
    return { result, ticks, ms: performance.now() - t0 };
  } finally {
    clearInterval(timer);
  }
}

describe('Domain lifecycle on a real TCG guest', () => {
  let conn: Connection;
  const name = testDomainName('life');
  const events: LifecycleEvent[] = [];
  let unsubscribe: (() => Promise<void>) | undefined;
  let dom: Domain;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forkd-native-'));
    conn = await Connection.open();
    await removeDomain(conn, name);
    unsubscribe = await conn.onLifecycle((ev) => {
      if (ev.domainName === name) events.push(ev);
    });
    dom = await conn.defineDomain(tinyDomainXml(name));
  });

  afterAll(async () => {
    await unsubscribe?.();
    await dom?.free();
    await removeDomain(conn, name);
    await conn?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const seen = (event: string, detail?: string) => () =>
    events.find((e) => e.event === event && (detail === undefined || e.detail === detail));

  it('starts, pauses, resumes and reports each state, with lifecycle events', async () => {
    await until('defined event', seen('defined', 'added'));
    expect((await dom.getState()).state).toBe('shutoff');

    const start = await ticksDuring(() => dom.create());
    console.log(`virDomainCreate: ${start.ms.toFixed(0)} ms, ${start.ticks} ticks of a 5 ms timer meanwhile`);
    expect(await dom.getState()).toMatchObject({ state: 'running', reason: 'booted' });
    const started = await until('started event', seen('started', 'booted'));
    expect(started.uuid).toBe(dom.uuid);

    await dom.suspend();
    expect(await dom.getState()).toMatchObject({ state: 'paused', reason: 'user' });
    await until('suspended event', seen('suspended', 'paused'));

    await dom.resume();
    expect(await dom.getState()).toMatchObject({ state: 'running', reason: 'unpaused' });
    await until('resumed event', seen('resumed', 'unpaused'));
    expect(start.ticks).toBeGreaterThan(3);
  });

  it('round-trips forkd metadata in its namespace', async () => {
    const element = `<forkd:domain vm="vm-1" host="host-a" kind="probe" created="2026-11-22T15:00:00Z"/>`;
    expect(await dom.getMetadata(MetadataType.ELEMENT, FORKD_NS)).toBeNull();
    await dom.setMetadata(
      MetadataType.ELEMENT,
      element,
      'forkd',
      FORKD_NS,
      DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG,
    );
    const back = await dom.getMetadata(MetadataType.ELEMENT, FORKD_NS);
    expect(back).toMatch(/^<forkd:domain /);
    expect(back).toContain('vm="vm-1"');
    expect(back).toContain('kind="probe"');
    const xml = await dom.getXMLDesc();
    expect(xml).toContain(FORKD_NS);
    await dom.setMetadata(MetadataType.TITLE, 'forkd test', null, null, DomainModificationImpact.LIVE);
    expect(await dom.getMetadata(MetadataType.TITLE, null)).toBe('forkd test');
  });

  it('passes QMP commands through, with and without file descriptors', async () => {
    const status = JSON.parse(await dom.qemuMonitorCommand('{"execute":"query-status"}'));
    expect(status.return).toMatchObject({ status: 'running', running: true });

    const noFd = JSON.parse(await dom.qemuMonitorCommand('{"execute":"getfd","arguments":{"fdname":"x"}}'));
    expect(noFd.error).toBeDefined(); // getfd needs an fd passed along: the next call proves it arrives

    const fd = openSync(join(dir, 'fd-pass'), 'w+');
    try {
      const got = await dom.qemuMonitorCommandWithFiles('{"execute":"getfd","arguments":{"fdname":"x"}}', [fd]);
      expect(JSON.parse(got.reply)).toEqual({ return: {}, id: expect.any(String) });
      expect(got.fds).toEqual([]);
      const closed = await dom.qemuMonitorCommand('{"execute":"closefd","arguments":{"fdname":"x"}}');
      expect(JSON.parse(closed).return).toEqual({});
      const again = await dom.qemuMonitorCommand('{"execute":"closefd","arguments":{"fdname":"x"}}');
      expect(JSON.parse(again).error).toBeDefined();
    } finally {
      closeSync(fd);
    }
    const err = await dom.qemuMonitorCommand('not json').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LibvirtError);
  });

  it('saves to a file and restores, without blocking the JS event loop', async () => {
    const path = join(dir, 'saved.img');
    const save = await ticksDuring(() => dom.save(path, null, 0));
    console.log(
      `virDomainSaveFlags: ${save.ms.toFixed(0)} ms, ${statSync(path).size} bytes, ${save.ticks} ticks of a 5 ms timer meanwhile`,
    );
    expect(await dom.getState()).toMatchObject({ state: 'shutoff', reason: 'saved' });
    await until('stopped/saved event', seen('stopped', 'saved'));
    expect(save.ms).toBeGreaterThan(100);
    expect(save.ticks).toBeGreaterThan(save.ms / 5 / 4);

    const restore = await ticksDuring(() => conn.restore(path, null, 0));
    console.log(`virDomainRestoreFlags: ${restore.ms.toFixed(0)} ms, ${restore.ticks} ticks meanwhile`);
    expect(await dom.getState()).toMatchObject({ state: 'running', reason: 'restored' });
    await until('started/restored event', seen('started', 'restored'));
    const status = JSON.parse(await dom.qemuMonitorCommand('{"execute":"query-status"}'));
    expect(status.return.status).toBe('running');
  });

  it('keeps a domain handle usable after the connection it came from is closed', async () => {
    const other = await Connection.open('qemu:///system', { keepAlive: false });
    const again = await other.lookupDomainByName(name);
    await other.close();
    expect(again).not.toBeNull();
    expect((await again!.getState()).state).toBe('running');
    await again!.free();
  });

  it('destroys and undefines, with stopped and undefined events', async () => {
    await dom.destroy();
    expect(await dom.getState()).toMatchObject({ state: 'shutoff', reason: 'destroyed' });
    await until('stopped event', seen('stopped', 'destroyed'));
    await dom.undefine();
    await until('undefined event', seen('undefined', 'removed'));
    expect(await conn.lookupDomainByName(name)).toBeNull();
    console.log(`events: ${events.map((e) => `${e.event}/${e.detail}`).join(', ')}`);
    // libvirt's own order for a start is resumed/unpaused then started/booted; check the
    // transitions this test made, in order.
    const at = (event: string, detail: string, after = -1) =>
      events.findIndex((e, i) => i > after && e.event === event && e.detail === detail);
    const started = at('started', 'booted');
    const suspended = at('suspended', 'paused', started);
    const resumed = at('resumed', 'unpaused', suspended);
    const stopped = at('stopped', 'destroyed', resumed);
    expect([started, suspended, resumed, stopped].every((i) => i >= 0)).toBe(true);
  });
});
