// Tenancy: admin makes tenants and keys; a tenant key sees only its own
// images, cannot administer, and stops working once revoked.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { runCli, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
beforeAll(async () => {
  stack = await startStack({ name: 'tenants', hostd: false });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-tenants-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
});
afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('tenants and keys', () => {
  it('gives each tenant its own images and keeps admin routes to admins', async () => {
    const t = await runCli(['tenant', 'create', 'acme', '--max-vms', '3'], stack.env);
    expect(t.code, t.stderr).toBe(0);
    const dup = await runCli(['tenant', 'create', 'acme'], stack.env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/ERR_CONFLICT/);

    const k = await runCli(['key', 'create', '--tenant', 'acme', '--name', 'ci'], stack.env);
    expect(k.code, k.stderr).toBe(0);
    const acmeKey = k.stdout.trim();
    const acme = { ...stack.env, FORKD_API_KEY: acmeKey };

    const imp = await runCli(['image', 'import', join(work, 'busybox.tar'), '-t', 'acme/tool:1'], acme);
    expect(imp.code, imp.stderr).toBe(0);
    const mine = JSON.parse((await runCli(['image', 'ls', '--json'], acme)).stdout) as { tags: string[] }[];
    expect(mine.flatMap((i) => i.tags)).toContain('acme/tool:1');
    const admins = JSON.parse((await runCli(['image', 'ls', '--json'], stack.env)).stdout) as { tags: string[] }[];
    expect(admins.flatMap((i) => i.tags)).not.toContain('acme/tool:1');

    const forbidden = await stack.api('/v1/tenants', { key: acmeKey });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as any).error.code).toBe('ERR_FORBIDDEN');

    const prefix = acmeKey.split('_')[1]!;
    const rev = await runCli(['key', 'revoke', prefix], stack.env);
    expect(rev.code, rev.stderr).toBe(0);
    const after = await runCli(['image', 'ls'], acme);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/ERR_UNAUTHORIZED/);
  });

  it('stores keys only as hashes and the admin key file with mode 0600', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(join(stack.dataDir, 'admin.key')).mode & 0o777).toBe(0o600);
    const db = readFileSync(join(stack.dataDir, 'forkd.db'));
    expect(db.includes(Buffer.from(stack.adminKey))).toBe(false);
  });
});
