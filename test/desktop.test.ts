// Desktops end to end (docs/desktops.md): one stack, one desktop template
// (built by the first create: a seed session frozen into a snapshot), the
// desktop image built once by `forkd image build desktop` and reused. A real
// headless Chromium (Debian's, driven by playwright with executablePath; no
// browser download) opens the desktop's URL, sees it painted, types into its
// terminal; `forkd exec` reads back what the typing wrote. Two desktops of one
// template have their own VNC password and machine-ids, their VMs their own
// hostnames. Wrong,
// expired and other tenants' tokens, unknown ids and a desktop removed under
// an open page are refused or reported. Timings are printed, never asserted.
import { mkdirSync } from 'node:fs';
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

beforeAll(async () => {
  // hostd in this process: the test asks each desktop's agent who its VM is. No pool shells: nothing here takes one.
  stack = await startStack({ name: 'desktop', hostd: false, env: { FORKD_DESKTOP_IDLE_SEC: '0', FORKD_POOL_SIZE: '0' } });
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
  }, 200_000);

  it('a second desktop of the same template has its own VNC password and machine-ids, and its VM its own hostname', async () => {
    const res = await settled(stack, await as(acmeKey, '/v1/desktops', { method: 'POST', body: '{}' }));
    expect(res.status, await res.clone().text()).toBe(202);
    second = (await res.json()) as Desktop;
    expect(second.templateId).toBe(first.templateId);
    const facts = async (d: Desktop) => {
      const [passwd, machineId] = (await sh(d.containerId, 'od -An -tx1 /run/forkd-desktop/passwd | tr -d " \\n"; echo; cat /etc/machine-id')).out.split('\n');
      const vmId = ((await (await as(acmeKey, `/v1/containers/${d.containerId}`)).json()) as { vm: { id: string } }).vm.id;
      const vm = (await hostd!.vms.get(vmId).agent.call('info', {})) as { hostname: string; machineId?: string };
      return { passwd, machineId, vmHostname: vm.hostname, vmMachineId: vm.machineId };
    };
    const [a, b] = [await facts(first), await facts(second)];
    for (const k of ['passwd', 'machineId', 'vmHostname', 'vmMachineId'] as const) {
      expect(a[k], k).toMatch(/\S/);
      expect(a[k], k).not.toBe(b[k]);
    }
    // Positive control: the same desktop reads the same facts twice.
    expect(await facts(first)).toEqual(a);
  }, 300_000);

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
