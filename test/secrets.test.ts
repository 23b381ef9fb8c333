// Container env at rest: a secret passed with `forkd run -e` and `forkd exec -e`
// reaches the container, and is found neither in the Redis job data (kept up
// to a day) nor in the database file, nor in forkd's own log output; inspect
// shows its name with the value redacted unless --show-env, and only to the
// tenant that owns the container.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { dataPaths } from '../services/contracts/config.js';
import { connectRedis } from '../services/contracts/redis.js';
import { runCli, startStack, type Stack } from './harness.js';

// Fresh per run, so no other test or an earlier run can put the same text anywhere.
const SECRET = `s3cr3t-${randomBytes(12).toString('hex')}`;
const EXEC_SECRET = `x3cr3t-${randomBytes(12).toString('hex')}`;
// The container proves it has a value by printing its SHA-256: the value itself never crosses back
// (container output passes through Redis relay streams, which are not what this test is about).
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const PRINT_HASH = (name: string) => `printf %s "$${name}" | sha256sum`;

let stack: Stack;
let work: string;
let id = '';
const logged: string[] = [];
let restoreStderr: (() => void) | undefined;

/** Everything the stack's Redis holds, as text: every key with every value, whatever its type. */
async function dumpRedis(): Promise<string> {
  const redis = await connectRedis(stack.env.REDIS_URL!);
  try {
    const out: string[] = [];
    for (const key of await redis.keys('*')) {
      const type = await redis.type(key);
      const value =
        type === 'string' ? await redis.get(key)
        : type === 'hash' ? await redis.hgetall(key)
        : type === 'list' ? await redis.lrange(key, 0, -1)
        : type === 'set' ? await redis.smembers(key)
        : type === 'zset' ? await redis.zrange(key, 0, -1)
        : type === 'stream' ? await redis.xrange(key, '-', '+')
        : `(${type})`;
      out.push(`${key} ${JSON.stringify(value)}`);
    }
    return out.join('\n');
  } finally {
    await redis.quit();
  }
}

/** The SQLite file and its WAL, as bytes: whatever a copied backup would hold. */
function databaseBytes(): string {
  const file = dataPaths(stack.dataDir).sqlite;
  return [file, `${file}-wal`, `${file}-journal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('\n');
}

beforeAll(async () => {
  // forkd's own log lines (hostd and the API write JSON lines to stderr), at debug, to look for the secret in them.
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logged.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  restoreStderr = () => { process.stderr.write = write; };
  stack = await startStack({ name: 'secrets', env: { FORKD_LOG_LEVEL: 'debug' } });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-secrets-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const imp = await runCli(['image', 'import', join(work, 'busybox.tar')], stack.env);
  expect(imp.code, imp.stderr).toBe(0);
  // The container prints its token's hash once, then idles: its log is the proof that it got the value.
  const r = await runCli(['run', '-d', '--name', 'vault', '-e', `API_TOKEN=${SECRET}`, 'busybox', '--', 'sh', '-c', `${PRINT_HASH('API_TOKEN')}; while true; do sleep 60; done`], stack.env, { timeoutMs: 600_000 });
  expect(r.code, r.stderr).toBe(0);
  id = r.stdout.trim();
});

afterAll(async () => {
  if (id) await runCli(['rm', '-f', id], stack.env).catch(() => null);
  await stack?.stop();
  restoreStderr?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a secret in container env', () => {
  it('reaches the container (create and exec), and the exec job ran', async () => {
    const logs = await runCli(['logs', id], stack.env);
    expect(logs.stdout, logs.stderr).toContain(sha256(SECRET));
    const ex = await runCli(['exec', '-e', `EXEC_TOKEN=${EXEC_SECRET}`, id, '--', 'sh', '-c', PRINT_HASH('EXEC_TOKEN')], stack.env);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stdout).toContain(sha256(EXEC_SECRET));
    // The same command without the variable prints another hash: the match above is the value arriving.
    const without = await runCli(['exec', id, '--', 'sh', '-c', PRINT_HASH('EXEC_TOKEN')], stack.env);
    expect(without.stdout).not.toContain(sha256(EXEC_SECRET));
  });

  it('is not in Redis: the container.create and container.exec jobs hold envelopes', async () => {
    const dump = await dumpRedis();
    // Positive control: both jobs are still there (kept an hour after completing), with this container's id and sealed env.
    expect(dump).toContain('container.create');
    expect(dump).toContain('container.exec');
    expect(dump).toContain(id);
    expect(dump).toMatch(/fks1\./);
    expect(dump).not.toContain(SECRET);
    expect(dump).not.toContain(EXEC_SECRET);
  });

  it('is not in the database: the row holds an envelope, and no byte of the file holds the value', async () => {
    const db = new Database(dataPaths(stack.dataDir).sqlite, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT * FROM Container WHERE id = ?').get(id) as Record<string, unknown> | undefined;
      // Positive control: the row is there, names the container, and its env column holds an envelope.
      expect(row?.name).toBe('vault');
      expect(JSON.parse(String(row!.env))).toMatch(/^fks1\./);
      expect(JSON.stringify(row)).not.toContain(SECRET);
    } finally {
      db.close();
    }
    const bytes = databaseBytes();
    expect(bytes).toContain('vault');
    expect(bytes).not.toContain(SECRET);
  });

  it('is not in forkd\'s log output', () => {
    const text = logged.join('');
    // Positive control: hostd logged at debug while it created the container and ran the exec.
    expect(text).toMatch(/"msg":"job done"/);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(EXEC_SECRET);
  });

  it('forkd inspect shows the name with the value redacted; --show-env shows the value', async () => {
    const plain = await runCli(['inspect', id], stack.env);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout).env).toContain('API_TOKEN=<redacted>');
    expect(plain.stdout).not.toContain(SECRET);
    const shown = await runCli(['inspect', '--show-env', id], stack.env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout).env).toContain(`API_TOKEN=${SECRET}`);
    // The list view redacts too.
    const ps = await runCli(['ps', '--json'], stack.env);
    expect(ps.stdout).toContain('API_TOKEN=<redacted>');
    expect(ps.stdout).not.toContain(SECRET);
  });

  it('another tenant cannot read it, with or without showEnv', async () => {
    expect((await runCli(['tenant', 'create', 'snoop'], stack.env)).code).toBe(0);
    const k = await runCli(['key', 'create', '--tenant', 'snoop', '--name', 'snoop'], stack.env);
    expect(k.code, k.stderr).toBe(0);
    const other = k.stdout.trim();
    const theirs = await stack.api(`/v1/containers/${id}?showEnv=true`, { key: other });
    expect(theirs.status).toBe(404);
    expect(await theirs.text()).not.toContain(SECRET);
    // Positive control: the owner's key, same URL, gets the value.
    const mine = await stack.api(`/v1/containers/${id}?showEnv=true`);
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as { env: string[] }).env).toContain(`API_TOKEN=${SECRET}`);
  });
});
