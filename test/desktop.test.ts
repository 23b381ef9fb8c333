// Desktops end to end (docs/desktops.md): one stack, one desktop template
// (built by the first create: a seed session frozen into a snapshot), the
// desktop image built once by `forkd image build desktop` and reused. A real
// headless Chromium (Debian's, driven by playwright with executablePath; no
// browser download) opens the desktop's URL, sees it painted, types into its
// terminal; `forkd exec` reads back what the typing wrote. Nothing is
// published on the host for a desktop (the bridge goes over the relay). A page
// whose connection drops reconnects and paints again. With a pool of one, the
// second and third creates are pool takes; the three desktops of one template
// have their own VNC password, machine-ids and hostnames, in the container as
// in the VM. Wrong,
// expired and other tenants' tokens, unknown ids and a desktop removed under
// an open page are refused or reported. Timings are printed, never asserted.
import { mkdirSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openDatabase } from '../services/api/db/client.js';
import { createLogger } from '../services/contracts/logger.js';
import { startHostd, type RunningHostd } from '../services/hostd/main.js';
import { PACKAGE_ROOT } from '../services/contracts/config.js';
import { runCli, settled, startStack, type Stack } from './harness.js';
import { desktopImageTar } from './desktop-image.js';

let stack: Stack;
let hostd: RunningHostd | undefined;
let browser: Browser | undefined;
let acmeKey = '';
let otherKey = '';
const ARTIFACTS = join(PACKAGE_ROOT, 'var', 'test-artifacts');

interface Desktop { id: string; state: string; containerId: string; templateId: string; url: string; token: string; expiresAt: string }
type ErrorBody = { error: { code: string; field?: string } };

async function as(key: string, path: string, init: RequestInit = {}): Promise<Response> {
  return stack.api(path, { ...init, key, headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...(init.headers ?? {}) } });
}

async function sh(id: string, script: string): Promise<{ code: number | null; out: string }> {
  const r = await runCli(['exec', id, '--', 'sh', '-c', script], { ...stack.env, FORKD_API_KEY: acmeKey });
  return { code: r.code, out: r.stdout.trim() };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The status a WebSocket upgrade to the bridge gets (101 when it opens). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => { ws.close(); resolve(101); });
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('error', (err) => { if (!String(err).includes('Unexpected server response')) reject(err); });
  });
}

const vncUrl = (id: string, token: string) => `${stack.url.replace(/^http/, 'ws')}/desktops/${id}/vnc?token=${encodeURIComponent(token)}`;

/** Whether the noVNC canvas has more than one colour in it (the desktop was painted). */
async function painted(page: Page): Promise<boolean> {
  // Runs in the page (a string, so this file needs no DOM types).
  return page.evaluate(`(() => {
    const c = document.querySelector('#screen canvas');
    if (!c || c.width === 0) return false;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length && seen.size < 3; i += 4 * 97) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size >= 2;
  })()`) as Promise<boolean>;
}

async function openPage(url: string): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 1024, height: 700 } });
  await page.goto(url);
  return page;
}

/** The VM a desktop's container runs in. */
async function vmOf(d: Desktop): Promise<string> {
  return ((await (await as(acmeKey, `/v1/containers/${d.containerId}`)).json()) as { vm: { id: string } }).vm.id;
}

/** The id of the tenant's ready pooled desktop, once the background refill has made one. */
async function pooledReady(): Promise<string> {
  const db = await openDatabase({ dataDir: stack.dataDir, migrate: false });
  try {
    return await until('a ready desktop in the pool', async () => {
      const row = await db.prisma.desktop.findFirst({ where: { pooled: true, vncPassword: { not: null } } });
      return row?.id;
    }, 300_000);
  } finally {
    await db.close();
  }
}

/** A TCP proxy to the API whose connections the test can cut, as a network drop would. */
function cuttableProxy(): Promise<{ url: string; accepted: () => number; cut: () => void; close: () => Promise<void> }> {
  const target = new URL(stack.url);
  const open = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = tcpConnect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) { open.add(s); s.on('error', () => undefined); s.on('close', () => open.delete(s)); }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const port = (server.address() as { port: number }).port;
    resolve({
      url: `http://127.0.0.1:${port}`,
      accepted: () => accepted,
      cut: () => { for (const s of open) s.destroy(); },
      close: () => new Promise<void>((r) => { for (const s of open) s.destroy(); server.close(() => r()); }),
    });
  }));
}

beforeAll(async () => {
  // hostd in this process: the test asks each desktop's agent who its VM is. No pool shells: nothing here takes one.
  // A desktop pool of one: the first create fills it, the next creates are pool takes (each refilled in the background).
  stack = await startStack({ name: 'desktop', hostd: false, env: { FORKD_DESKTOP_IDLE_SEC: '0', FORKD_POOL_SIZE: '0', FORKD_DESKTOP_POOL_SIZE: '1' } });
  hostd = await startHostd(stack.config, stack.env.REDIS_URL!, createLogger('warn', { svc: 'test-desktop' }));
  for (const name of ['acme', 'other']) {
    expect((await runCli(['tenant', 'create', name], stack.env)).code).toBe(0);
    const k = await runCli(['key', 'create', '--tenant', name, '--name', 'test'], stack.env);
    expect(k.code, k.stderr).toBe(0);
    if (name === 'acme') acmeKey = k.stdout.trim();
    else otherKey = k.stdout.trim();
  }
  const imp = await runCli(['image', 'import', await desktopImageTar()], { ...stack.env, FORKD_API_KEY: acmeKey }, { timeoutMs: 300_000 });
  expect(imp.code, imp.stderr).toBe(0);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 1_200_000); // the first run on a machine builds the desktop image from Debian packages (about 5 min)

afterAll(async () => {
  await browser?.close();
  // VMs outlive hostd (a restarted one adopts them): a test's must not outlive the test.
  // (The pool's ready desktop is one of them.)
  for (const vm of hostd?.vms.all() ?? []) await hostd!.vms.destroy(vm.vmId).catch(() => undefined);
  await hostd?.stop();
  await stack?.stop();
});

describe('a desktop in the browser', () => {
  let first: Desktop;
  let second: Desktop;

  it('forkd desktop create builds the tenant\'s desktop template on first use and prints a URL', async () => {
    const t0 = Date.now();
    const r = await runCli(['desktop', 'create', '--json'], { ...stack.env, FORKD_API_KEY: acmeKey }, { timeoutMs: 900_000 });
    expect(r.code, r.stderr).toBe(0);
    first = JSON.parse(r.stdout) as Desktop;
    console.log(`first desktop (template built): ${Date.now() - t0} ms`);
    expect(first.state).toBe('running');
    expect(first.url).toMatch(new RegExp(`/desktops/${first.id}\\?token=`));
    // The list page is served without a key and carries no data (its script asks /v1/desktops with the typed key).
    const list = await fetch(`${stack.url}/desktops`);
    expect(list.status).toBe(200);
    expect(await list.text()).not.toContain(first.id);
    const ls = await runCli(['desktop', 'ls', '--json'], { ...stack.env, FORKD_API_KEY: acmeKey });
    expect((JSON.parse(ls.stdout) as Desktop[]).map((d) => d.id)).toEqual([first.id]);
  }, 900_000);

  it('opens in Chromium painted, and what is typed into its terminal runs in the container', async () => {
    const t0 = Date.now();
    const page = await openPage(first.url);
    await page.waitForSelector('body[data-state="connected"]', { timeout: 60_000 });
    await until('the first painted frame', async () => painted(page), 60_000);
    console.log(`page open to painted: ${Date.now() - t0} ms`);
    // The session took the window's size (noVNC resizeSession → Xvnc AcceptSetDesktopSize; it started at 1280x800).
    await until('the desktop to take the window size', async () => (await page.evaluate('[document.querySelector("#screen canvas").width, document.querySelector("#screen canvas").height].join("x")')) === '1024x700', 30_000);
    await page.screenshot({ path: join(ARTIFACTS, 'desktop.png') });
    await page.locator('#screen canvas').click({ position: { x: 200, y: 200 } });
    await page.keyboard.type('echo typed-in-the-browser > /tmp/typed\n', { delay: 30 });
    const got = await until('the typed command to run', async () => {
      const r = await sh(first.containerId, 'cat /tmp/typed 2>/dev/null');
      return r.out === 'typed-in-the-browser' && r.out;
    }, 60_000);
    expect(got).toBe('typed-in-the-browser');
    await page.screenshot({ path: join(ARTIFACTS, 'desktop-typed.png') });
    await page.close();
    // All of that went over the API↔hostd relay: nothing of the desktop is published on the host.
    const view = (await (await as(acmeKey, `/v1/containers/${first.containerId}`)).json()) as { ports: unknown[] };
    expect(view.ports).toEqual([]);
    expect(hostd!.ports.published(await vmOf(first))).toEqual([]);
  }, 200_000);

  it('a page whose connection dropped reconnects and paints again', async () => {
    const proxy = await cuttableProxy();
    try {
      const link = (await (await as(acmeKey, `/v1/desktops/${first.id}/token`, { method: 'POST' })).json()) as Desktop;
      const page = await openPage(link.url.replace(stack.url, proxy.url));
      await page.waitForSelector('body[data-state="connected"]', { timeout: 60_000 });
      await until('the first painted frame', async () => painted(page), 60_000);
      // Mark this connection's RFB: the page makes a new one when it reconnects.
      await page.evaluate('window.forkdDesktop.before = true');
      const before = proxy.accepted();
      proxy.cut();
      await until('a new connection, connected', async () => page.evaluate('window.forkdDesktop.before !== true && document.body.dataset.state === "connected"') as Promise<boolean>, 60_000);
      expect(proxy.accepted()).toBeGreaterThan(before);
      await until('a painted frame after the reconnect', async () => painted(page), 60_000);
      await page.screenshot({ path: join(ARTIFACTS, 'desktop-reconnected.png') });
      await page.close();
    } finally {
      await proxy.close();
    }
  }, 200_000);

  it('the next creates are taken from the pool, and every desktop of the template has its own secrets and hostnames, in the container too', async () => {
    const take = async (): Promise<Desktop> => {
      const ready = await pooledReady();
      const res = await settled(stack, await as(acmeKey, '/v1/desktops', { method: 'POST', body: '{}' }));
      expect(res.status, await res.clone().text()).toBe(202);
      const d = (await res.json()) as Desktop;
      expect(d.id, 'the create is served from the pool').toBe(ready);
      expect(d.templateId).toBe(first.templateId);
      return d;
    };
    second = await take();
    const third = await take();
    const facts = async (d: Desktop) => {
      const [passwd, machineId, hostname, etcHostname] = (await sh(d.containerId, 'od -An -tx1 /run/forkd-desktop/passwd | tr -d " \\n"; echo; cat /etc/machine-id; uname -n; cat /etc/hostname')).out.split('\n');
      const vm = (await hostd!.vms.get(await vmOf(d)).agent.call('info', {})) as { hostname: string; machineId?: string };
      return { passwd, machineId, hostname, etcHostname, vmHostname: vm.hostname, vmMachineId: vm.machineId };
    };
    const all = [await facts(first), await facts(second), await facts(third)];
    for (const f of all) {
      // The container's hostname (UTS and its /etc/hostname) followed its VM's new one.
      expect(f.hostname).toBe(f.vmHostname);
      expect(f.etcHostname).toBe(f.vmHostname);
    }
    for (const k of ['passwd', 'machineId', 'hostname', 'vmHostname', 'vmMachineId'] as const) {
      for (const f of all) expect(f[k], k).toMatch(/\S/);
      expect(new Set(all.map((f) => f[k])).size, `${k}: ${all.map((f) => f[k]).join(' ')}`).toBe(3);
    }
    // Positive control: the same desktop reads the same facts twice.
    expect(await facts(first)).toEqual(all[0]);
  }, 600_000);

  it('refuses wrong, expired and other tenants\' tokens and unknown desktops before the upgrade', async () => {
    const mint = async (key: string, id: string) => as(key, `/v1/desktops/${id}/token`, { method: 'POST' });
    const good = (await (await mint(acmeKey, first.id)).json()) as Desktop;
    const ofSecond = (await (await mint(acmeKey, second.id)).json()) as Desktop;
    // Positive controls: the right token opens the page and the socket.
    expect((await fetch(good.url)).status).toBe(200);
    expect(await upgradeStatus(vncUrl(first.id, good.token))).toBe(101);
    // Another tenant cannot mint one: the desktop does not exist for it.
    const theirs = await mint(otherKey, first.id);
    expect(theirs.status).toBe(404);
    expect(((await theirs.json()) as ErrorBody).error.code).toBe('ERR_NOT_FOUND');
    // Wrong, missing, another desktop's token.
    for (const token of ['nope', '', ofSecond.token]) {
      expect((await fetch(`${stack.url}/desktops/${first.id}?token=${encodeURIComponent(token)}`)).status).toBe(401);
      expect(await upgradeStatus(vncUrl(first.id, token))).toBe(401);
    }
    expect(await upgradeStatus(vncUrl('no-such-desktop', good.token))).toBe(404);
    // Expired: the stored expiry moved into the past.
    const db = await openDatabase({ dataDir: stack.dataDir, migrate: false });
    try {
      await db.prisma.desktop.update({ where: { id: first.id }, data: { tokenExpiresAt: new Date(Date.now() - 1000) } });
    } finally {
      await db.close();
    }
    expect(await upgradeStatus(vncUrl(first.id, good.token))).toBe(401);
    expect((await fetch(good.url)).status).toBe(401);
  }, 120_000);

  it('tells an open page that its desktop was removed', async () => {
    const link = (await (await as(acmeKey, `/v1/desktops/${second.id}/token`, { method: 'POST' })).json()) as Desktop;
    const page = await openPage(link.url);
    await page.waitForSelector('body[data-state="connected"]', { timeout: 60_000 });
    const rm = await runCli(['desktop', 'rm', second.id], { ...stack.env, FORKD_API_KEY: acmeKey });
    expect(rm.code, rm.stderr).toBe(0);
    await page.waitForSelector('body[data-state="removed"]', { timeout: 30_000 });
    expect(await page.textContent('#msg')).toContain('removed');
    await page.close();
    expect((await as(acmeKey, `/v1/desktops/${second.id}`)).status).toBe(404);
    expect((await as(acmeKey, `/v1/containers/${second.containerId}`)).status).toBe(404);
    // Positive control: the other desktop is still there.
    expect((await as(acmeKey, `/v1/desktops/${first.id}`)).status).toBe(200);
  }, 120_000);
});
