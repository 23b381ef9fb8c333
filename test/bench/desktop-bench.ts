// `npm run bench -- desktop [--runs N] [--out FILE] [--json]`: what a person
// waits for, from asking for a desktop to its first painted frame in a real
// browser (Debian's Chromium through playwright, executablePath, no download),
// on one stack. Modes:
//   fork   POST /v1/desktops → operation done → token → page → canvas painted
//          (a fresh fork of the desktop template; the template is built by a
//          warm-up create that is timed on its own);
//   cold   the same session cold-booted: a container of the desktop image with
//          --boot cold, until its terminal runs (no browser: the time to a
//          running session is the part that differs);
//   pool   FORKD_DESKTOP_POOL_SIZE=1: each run waits (not timed) until the pool
//          has a ready desktop, then asks; the fork runs name the template, which
//          always forks fresh.
// Memory: PSS of each idle desktop's QEMU process with two desktops alive.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { chromium, type Browser } from 'playwright';
import { PACKAGE_ROOT, dataPaths, loadConfig } from '../../services/contracts/config.js';
import { openDatabase } from '../../services/api/db/client.js';
import { runCli, settled, startStack, type Stack } from '../harness.js';
import { domainPss, kibToMib } from './smaps.js';
import { percentile } from './stats.js';
import { formatTable } from './table.js';
import { desktopImageTar } from '../desktop-image.js';

export interface DesktopBenchOptions { runs: number; out: string | null; json: boolean }

interface Sample { createMs: number; pageMs: number; totalMs: number }
interface Desktop { id: string; containerId: string; templateId: string }

export interface DesktopBenchReport {
  benchmark: 'desktop';
  runs: number;
  at: string;
  templateBuildMs: number;
  fork: { p50_ms: number; p95_ms: number; create_p50_ms: number; page_p50_ms: number; samples: Sample[] };
  cold: { p50_ms: number; p95_ms: number; samples: number[] };
  pool: { p50_ms: number; p95_ms: number; create_p50_ms: number; samples: Sample[] };
  idleDesktopPssMib: number[];
}

async function json<T>(res: Response): Promise<T> {
  if (!res.ok && res.status !== 202) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

const post = (stack: Stack, path: string, body?: unknown) => stack.api(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });

/** One desktop: create, link, page painted. */
async function oneDesktop(stack: Stack, browser: Browser, body: object = {}): Promise<{ sample: Sample; desktop: Desktop }> {
  const t0 = performance.now();
  const desktop = await json<Desktop>(await settled(stack, await post(stack, '/v1/desktops', body)));
  const link = await json<{ url: string }>(await post(stack, `/v1/desktops/${desktop.id}/token`));
  const t1 = performance.now();
  const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
  try {
    await page.goto(link.url);
    await page.waitForFunction(`(() => {
      const c = document.querySelector('#screen canvas');
      if (!c || c.width === 0) return false;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length && seen.size < 2; i += 4 * 97) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return seen.size >= 2;
    })()`, undefined, { timeout: 120_000, polling: 20 });
  } finally {
    await page.close();
  }
  const t2 = performance.now();
  return { sample: { createMs: Math.round(t1 - t0), pageMs: Math.round(t2 - t1), totalMs: Math.round(t2 - t0) }, desktop };
}

/** Waits (bounded, not timed) until the desktop pool holds a ready desktop. */
async function pooledReady(stack: Stack): Promise<void> {
  const db = await openDatabase({ dataDir: stack.dataDir, migrate: false });
  try {
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      if ((await db.prisma.desktop.count({ where: { pooled: true, vncPassword: { not: null } } })) > 0) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error('no pooled desktop after 300 s');
  } finally {
    await db.close();
  }
}

/** A cold-booted desktop session: container create with boot cold, until xterm runs. */
async function coldSession(stack: Stack): Promise<number> {
  const t0 = performance.now();
  const c = await json<{ id: string }>(await settled(stack, await post(stack, '/v1/containers', {
    image: 'forkd/desktop:latest', boot: 'cold', vm: { memoryMib: stack.config.desktop.memoryMib },
  })));
  try {
    for (let i = 0; i < 600; i++) {
      const r = await runCli(['exec', c.id, '--', 'sh', '-c', 'grep -qsx xterm /proc/[0-9]*/comm'], stack.env);
      if (r.code === 0) return Math.round(performance.now() - t0);
      await new Promise((r2) => setTimeout(r2, 200));
    }
    throw new Error('cold desktop session: no terminal after 600 tries');
  } finally {
    await stack.api(`/v1/containers/${c.id}?force=true`, { method: 'DELETE' });
  }
}

export async function runDesktopBench(opts: DesktopBenchOptions): Promise<{ report: DesktopBenchReport; text: string; jsonPath: string }> {
  const stack = await startStack({ name: 'bench-desktop', env: { FORKD_DESKTOP_IDLE_SEC: '0', FORKD_POOL_SIZE: '0', FORKD_DESKTOP_POOL_SIZE: '1' } });
  let browser: Browser | undefined;
  try {
    const imp = await runCli(['image', 'import', await desktopImageTar()], stack.env, { timeoutMs: 300_000 });
    if (imp.code !== 0) throw new Error(`image import failed: ${imp.stderr}`);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    process.stderr.write('bench desktop: warm-up (builds the desktop template)\n');
    const warm = await oneDesktop(stack, browser);
    const fork: Sample[] = [];
    const alive: Desktop[] = [warm.desktop];
    const pool: Sample[] = [];
    for (let i = 0; i < opts.runs; i++) {
      for (const mode of ['fork', 'pool'] as const) {
        // Before either mode: no pool refill is forking in the background (it would slow the fork being timed).
        await pooledReady(stack);
        const { sample, desktop } = await oneDesktop(stack, browser, mode === 'fork' ? { template: warm.desktop.templateId } : {});
        (mode === 'fork' ? fork : pool).push(sample);
        process.stderr.write(`bench desktop: ${mode} ${sample.totalMs} ms (create ${sample.createMs}, page ${sample.pageMs})\n`);
        alive.push(desktop);
        // Two alive at most (and the pooled one): the memory reading below wants siblings, the host wants room.
        while (alive.length > 2) await stack.api(`/v1/desktops/${alive.shift()!.id}`, { method: 'DELETE' });
      }
    }
    await new Promise((r) => setTimeout(r, 5000)); // let the last pages' work settle before reading memory
    const pss: number[] = [];
    for (const d of alive) {
      const c = await json<{ vm: { domainName: string } }>(await stack.api(`/v1/containers/${d.containerId}`));
      pss.push(Math.round(kibToMib((await domainPss(c.vm.domainName)).pssKib)));
    }
    for (const d of alive) await stack.api(`/v1/desktops/${d.id}`, { method: 'DELETE' });
    const cold: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      cold.push(await coldSession(stack));
      process.stderr.write(`bench desktop: cold session ${cold[i]} ms\n`);
    }
    const totals = fork.map((s) => s.totalMs);
    const report: DesktopBenchReport = {
      benchmark: 'desktop', runs: opts.runs, at: new Date().toISOString(), templateBuildMs: warm.sample.totalMs,
      fork: {
        p50_ms: Math.round(percentile(totals, 50)), p95_ms: Math.round(percentile(totals, 95)),
        create_p50_ms: Math.round(percentile(fork.map((s) => s.createMs), 50)), page_p50_ms: Math.round(percentile(fork.map((s) => s.pageMs), 50)), samples: fork,
      },
      cold: { p50_ms: Math.round(percentile(cold, 50)), p95_ms: Math.round(percentile(cold, 95)), samples: cold },
      pool: {
        p50_ms: Math.round(percentile(pool.map((s) => s.totalMs), 50)), p95_ms: Math.round(percentile(pool.map((s) => s.totalMs), 95)),
        create_p50_ms: Math.round(percentile(pool.map((s) => s.createMs), 50)), samples: pool,
      },
      idleDesktopPssMib: pss,
    };
    const jsonPath = opts.out ?? join(dataPaths(loadConfig().dataDir).bench, 'desktop.json');
    await mkdir(dirname(jsonPath), { recursive: true });
    await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
    return { report, text: desktopTable(report), jsonPath };
  } finally {
    await browser?.close();
    // Every container the run made, pooled desktops' included: VMs outlive hostd, the bench's must not.
    const left = await stack.api('/v1/containers?all=true').then((r) => r.json() as Promise<{ containers: Array<{ id: string }> }>).catch(() => ({ containers: [] }));
    for (const c of left.containers) await stack.api(`/v1/containers/${c.id}?force=true`, { method: 'DELETE' }).catch(() => undefined);
    await stack.stop();
  }
}

export function desktopTable(r: DesktopBenchReport): string {
  const table = formatTable(['desktop: request → first painted frame', 'n', 'p50 ms', 'p95 ms', 'note'], [
    ['first (builds the template)', 1, r.templateBuildMs, r.templateBuildMs, 'seed session + snapshot + fork + page'],
    ['fork of the desktop template', r.fork.samples.length, r.fork.p50_ms, r.fork.p95_ms, `create p50 ${r.fork.create_p50_ms}, page→paint p50 ${r.fork.page_p50_ms}`],
    ['cold boot (to a running terminal)', r.cold.samples.length, r.cold.p50_ms, r.cold.p95_ms, 'no browser; session only'],
    ['pool take (FORKD_DESKTOP_POOL_SIZE=1)', r.pool.samples.length, r.pool.p50_ms, r.pool.p95_ms, `create p50 ${r.pool.create_p50_ms}`],
  ]);
  return `${table}\n\nidle desktop QEMU PSS (MiB, siblings alive together): ${r.idleDesktopPssMib.join(', ')}\n`;
}
