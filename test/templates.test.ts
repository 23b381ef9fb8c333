// Templates and forks through the API and CLI: build a template, fork VMs
// from it (pool and fresh), run a container on the default (fork) path, and
// refuse to delete a template while VMs use it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { runCli, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
let templateId = '';

beforeAll(async () => {
  stack = await startStack({ name: 'templates' });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-templates-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const r = await runCli(['image', 'import', join(work, 'busybox.tar')], stack.env);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(async () => {
  const vms = await runCli(['vm', 'ls', '--json'], stack.env).catch(() => null);
  for (const v of vms?.code === 0 ? (JSON.parse(vms.stdout) as { id: string }[]) : []) await runCli(['vm', 'rm', v.id], stack.env);
  if (templateId) await runCli(['template', 'rm', templateId], stack.env);
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('templates through the API', () => {
  it('builds a template with a warm pool', async () => {
    const r = await runCli(['template', 'create', 'busybox', '--pool', '1', '--json'], stack.env, { timeoutMs: 900_000 });
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout) as { id: string; state: string; accel: string };
    expect(t.state).toBe('ready');
    // The API answered at once with an operation; the CLI followed it, a line per step on a non-TTY stderr.
    expect(r.stderr).toMatch(/^forkd: building template \S+ \(operation \S+\)$/m);
    expect(r.stderr).toMatch(/^forkd: building: template: \S+ \(\d+%\)$/m);
    expect(t.accel).toMatch(/^(kvm|tcg)$/);
    templateId = t.id;
    const again = await runCli(['template', 'create', 'busybox'], stack.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/ERR_CONFLICT/);
  });

  it('forks VMs from it, each with its own domain', async () => {
    const a = await runCli(['vm', 'fork', templateId, '--json'], stack.env, { timeoutMs: 300_000 });
    const b = await runCli(['vm', 'fork', templateId, '--no-pool', '--json'], stack.env, { timeoutMs: 300_000 });
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const va = JSON.parse(a.stdout) as { domainName: string; boot: string; timings: Record<string, number> };
    const vb = JSON.parse(b.stdout) as { domainName: string; boot: string };
    expect(va.domainName).not.toBe(vb.domainName);
    expect(['pool', 'fork']).toContain(va.boot);
    expect(vb.boot).toBe('fork');
    const show = JSON.parse((await runCli(['template', 'show', templateId], stack.env)).stdout) as { vms: number; pool: { target: number } | null };
    expect(show.vms).toBe(2);
    expect(show.pool?.target).toBe(1);
  });

  it('refuses to delete a template in use', async () => {
    const r = await runCli(['template', 'rm', templateId], stack.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_CONFLICT.*|used by 2 VM/);
  });

  it('runs a container on a fork of its image\'s template by default', async () => {
    const r = await runCli(['run', '--rm', 'busybox', '--', 'sh', '-c', 'echo forked $(hostname); exit 4'], stack.env, { timeoutMs: 900_000 });
    expect(r.stdout, r.stderr).toMatch(/^forked \S+/m);
    expect(r.code).toBe(4);
  });

  it('deletes the template once its VMs are gone', async () => {
    const vms = JSON.parse((await runCli(['vm', 'ls', '--json'], stack.env)).stdout) as { id: string }[];
    for (const v of vms) expect((await runCli(['vm', 'rm', v.id], stack.env)).code).toBe(0);
    const r = await runCli(['template', 'rm', templateId], stack.env);
    expect(r.code, r.stderr).toBe(0);
    templateId = '';
  });
});
