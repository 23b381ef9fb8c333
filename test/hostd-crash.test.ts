// hostd killed (SIGKILL, no chance to clean up) in the middle of a fork: the
// next hostd cleans up what was half made, the job is retried or fails, and in
// the end every VM forkd knows has exactly one domain and one directory, and
// nothing else is left: no orphan domain, disk or row.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { Connection } from '../native/libvirt/index.js';
import { ip } from '../services/hostd/network/commands.js';
import { settled, startStack, type Stack } from './harness.js';
import { startHostdProcess, waitForHost } from './hostd-process.js';

let stack: Stack;
let work: string;
let conn: Connection;
let hostd: ChildProcess | undefined;
let templateId = '';

async function hostDomains(): Promise<string[]> {
  const all = await conn.listAllDomains(0);
  const names: string[] = [];
  for (const d of all) {
    const xml = await d.getXMLDesc(0).catch(() => '');
    if (xml.includes(`host='${stack.config.hostId}'`) || xml.includes(`host="${stack.config.hostId}"`)) names.push(d.name);
    await d.free();
  }
  return names.sort();
}

const vmDirs = (): string[] => {
  const dir = join(stack.dataDir, 'run', 'vms');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
};

beforeAll(async () => {
  // A killed hostd's jobs are handed over within about twice the lock: 8 s instead of the default 60 s keeps the test short.
  stack = await startStack({ name: 'crash', hostd: false, env: { FORKD_POOL_SIZE: '0', FORKD_JOB_LOCK_SEC: '8' } });
  conn = await Connection.open();
  work = mkdtempSync(join(tmpdir(), 'forkd-test-crash-'));
  const tar = join(work, 'busybox.tar');
  await buildBusyboxImage(tar, {});
  const up = await stack.api('/v1/images', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: (await import('node:fs')).readFileSync(tar) });
  expect(up.status).toBe(201);
  hostd = startHostdProcess(stack);
  await waitForHost(stack, 'up');
  // The build answers 202 with an operation; settled() follows it to the template.
  const t = await settled(stack, await stack.api('/v1/templates', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'busybox', poolSize: 0 }) }));
  expect(t.status, await t.clone().text()).toBe(202);
  templateId = ((await t.json()) as { id: string }).id;
});

afterAll(async () => {
  for (const v of ((await (await stack.api('/v1/vms')).json()) as { vms: { id: string }[] }).vms) await stack.api(`/v1/vms/${v.id}`, { method: 'DELETE' });
  if (templateId) await stack.api(`/v1/templates/${templateId}`, { method: 'DELETE' });
  hostd?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 2000));
  for (const name of await hostDomains()) {
    const d = await conn.lookupDomainByName(name);
    await d?.destroy().catch(() => {});
    await d?.free();
  }
  await conn.close();
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('a hostd killed halfway through a fork', () => {
  it('leaves, after a restart, only VMs that forkd knows, each whole', async () => {
    const before = new Set(vmDirs());
    const fork = stack.api('/v1/vms', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ template: templateId, pool: false }) });
    // Kill it as soon as the clone has a directory: mid-fork, before identity.
    for (let i = 0; i < 400 && vmDirs().every((d) => before.has(d)); i++) await new Promise((r) => setTimeout(r, 25));
    hostd!.kill('SIGKILL');
    await new Promise((r) => hostd!.once('exit', r));

    hostd = startHostdProcess(stack);
    const res = await fork; // the job is retried by the new hostd, or fails with a clear error
    const body = (await res.json()) as { id?: string; error?: { code: string } };
    console.log(`fork after the crash: HTTP ${res.status}${body.error ? ` ${body.error.code}` : ''}`);
    const vms = ((await (await stack.api('/v1/vms')).json()) as { vms: { id: string; domainName: string; state: string }[] }).vms;

    if (res.status === 201) {
      expect(vms.map((v) => v.id)).toEqual([body.id]);
    } else {
      expect(body.error?.code).toMatch(/^ERR_/);
      expect(vms.filter((v) => v.state === 'running')).toEqual([]);
    }
    // Nothing but known VMs: one domain and one directory each, no template build or shell left over.
    const known = vms.filter((v) => v.state === 'running');
    expect(await hostDomains()).toEqual(known.map((v) => v.domainName).sort());
    expect(vmDirs()).toEqual(known.map((v) => v.id).sort());
    // And one tap each: the tap of a clone killed mid-fork is swept by the restarted hostd.
    const markers = readdirSync(join(stack.dataDir, 'run', 'taps'));
    expect(markers).toHaveLength(known.length);
    const links = await ip(['-j', 'link', 'show'], 'links');
    const inNamespaces = await Promise.all((existsSync('/run/netns') ? readdirSync('/run/netns') : []).filter((n) => n.startsWith('forkd-n-')).map((n) => ip(['-j', 'link', 'show'], 'links', n)));
    for (const m of markers) expect([links, ...inNamespaces].some((l) => l.includes(`"${m}"`)), m).toBe(true);
  });
});
