// The one harness every end-to-end test stands on: a real forkd (API + hostd in
// this process) on a fresh data directory, a private Redis, SQLite, and the
// host's real libvirtd. Guest and probe images are content-addressed caches, so
// the harness shares `var/images` and the host verdicts in `var/host` with the
// checkout instead of rebuilding them per test.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT, dataPaths, loadConfig, type ForkdConfig } from '../services/contracts/config.js';
import { ERRORS, type ErrorCode } from '../services/contracts/errors.js';
import { createLogger } from '../services/contracts/logger.js';
import { loadSecretKey, sealEnv, type SealedEnv } from '../services/contracts/secrets/index.js';
import { PrivateRedis } from '../services/cli/private-redis.js';
import { releaseDataDirNetworking } from '../services/hostd/network/release.js';

export interface Stack {
  url: string;
  adminKey: string;
  dataDir: string;
  config: ForkdConfig;
  env: NodeJS.ProcessEnv;
  /** fetch against the API with the admin key (or `key`). */
  api(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  stop(): Promise<void>;
}

/** A fresh data directory whose `caches` link to the checkout's `var/` (guest images, host verdicts). */
export function sharedCacheDataDir(prefix: string, caches: readonly ('images' | 'host')[] = ['images', 'host']): string {
  const dataDir = mkdtempSync(join(tmpdir(), `forkd-test-${prefix}-`));
  const repoVar = join(PACKAGE_ROOT, 'var');
  for (const shared of caches) {
    mkdirSync(join(repoVar, shared), { recursive: true });
    symlinkSync(join(repoVar, shared), join(dataDir, shared));
  }
  return dataDir;
}

/**
 * `privateImages`: the stack keeps its own `images/` (container image store,
 * uploads) instead of sharing the checkout's, for tests that compare the store
 * before and after; only a stack without hostd can do without the guest images.
 * `templateCache: false`: image templates are built, not copied from the
 * checkout's `var/template-cache` (FORKD_TEMPLATE_CACHE_DIR).
 */
export async function startStack(opts: { name: string; env?: NodeJS.ProcessEnv; hostd?: boolean; privateImages?: boolean; templateCache?: boolean } = { name: 'stack' }): Promise<Stack> {
  if (opts.privateImages === true && opts.hostd !== false) throw new Error('startStack: privateImages needs hostd: false (hostd boots guests from the shared images)');
  const dataDir = sharedCacheDataDir(opts.name, opts.privateImages === true ? ['host'] : ['images', 'host']);
  const redis = new PrivateRedis(join(dataDir, 'redis.sock'), join(dataDir, 'redis'));
  await redis.start();
  const env: NodeJS.ProcessEnv = {
    FORKD_DATA_DIR: dataDir,
    FORKD_LISTEN: '127.0.0.1:0',
    REDIS_URL: redis.url,
    FORKD_HOST_ID: `test-${opts.name}-${process.pid}`,
    FORKD_LOG_LEVEL: 'warn',
    // Every stack would otherwise boot a guest to build the same image templates; a test of the build itself opts out.
    ...(opts.templateCache === false ? {} : { FORKD_TEMPLATE_CACHE_DIR: join(PACKAGE_ROOT, 'var', 'template-cache') }),
    ...opts.env,
  };
  const config = loadConfig(env);
  const log = createLogger(config.logLevel, { svc: `test-${opts.name}` });
  const stops: (() => Promise<void>)[] = [
    async () => { await redis.stop(); },
    // The stack's networks and taps outlive its hostd (as VMs do): remove them by the ids its data directory records.
    async () => { await releaseDataDirNetworking(join(dataDir, 'run'), log); },
    async () => rmSync(dataDir, { recursive: true, force: true }),
  ];
  try {
    if (opts.hostd !== false) {
      const { startHostd } = await import('../services/hostd/main.js');
      const hostd = await startHostd(config, redis.url!, log);
      stops.unshift(() => hostd.stop());
    }
    const { startApi } = await import('../services/api/main.js');
    const api = await startApi(config, redis.url!, log);
    stops.unshift(() => api.stop());
    const adminKey = readFileSync(dataPaths(dataDir).adminKey, 'utf8').trim();
    return {
      url: api.url,
      adminKey,
      dataDir,
      config,
      env: { ...env, FORKD_URL: api.url, FORKD_API_KEY: adminKey },
      api: (path, init = {}) => {
        const { key, ...rest } = init;
        const headers = new Headers(rest.headers);
        const k = key === undefined ? adminKey : key;
        if (k !== null) headers.set('authorization', `Bearer ${k}`);
        return fetch(api.url + path, { ...rest, headers });
      },
      stop: async () => { for (const s of stops) await s().catch(() => {}); },
    };
  } catch (err) {
    for (const s of stops) await s().catch(() => {});
    throw err;
  }
}

/** The stack's env-sealing key (its FORKD_SECRET_KEY, else the data directory's secret.key its hostd made). */
export function stackSecretKey(stack: Pick<Stack, 'config'>): Promise<Buffer> {
  return loadSecretKey({ keyFile: dataPaths(stack.config.dataDir).secretKey, configured: stack.config.secretKey });
}

/** `env` sealed as the API seals it, for tests that put container.create or container.exec jobs on a queue themselves. */
export async function sealedEnvFor(stack: Pick<Stack, 'config'>, containerId: string, env: string[]): Promise<SealedEnv> {
  return sealEnv(await stackSecretKey(stack), containerId, env);
}

/**
 * A create's answer followed to its end. A 202 carries an operation: it is
 * long-polled until it ends, and the Response returned has the result (status
 * 202) or the operation's error as `{error}` (the status its code has in the
 * catalogue). Any other answer (a 4xx found before the work) comes back as is.
 */
export async function settled(stack: Pick<Stack, 'api'>, res: Response): Promise<Response> {
  if (res.status !== 202) return res;
  type Op = { id: string; state: string; result?: unknown; error?: { code: ErrorCode; message: string } };
  let op = ((await res.json()) as { operation: Op }).operation;
  while (op.state !== 'succeeded' && op.state !== 'failed') {
    const poll = await stack.api(`/v1/operations/${op.id}?waitSec=60`);
    if (poll.status !== 200) throw new Error(`following operation ${op.id}: HTTP ${poll.status}: ${await poll.text()}`);
    op = ((await poll.json()) as { operation: Op }).operation;
  }
  const headers = { 'content-type': 'application/json' };
  return op.state === 'succeeded'
    ? new Response(JSON.stringify(op.result), { status: 202, headers })
    : new Response(JSON.stringify({ error: op.error }), { status: ERRORS[op.error!.code]?.status ?? 500, headers });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `forkd` CLI (bin/forkd.js → dist/) as a user would. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, opts: { timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'forkd.js'), ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}
