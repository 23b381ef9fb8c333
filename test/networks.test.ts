// Tenant networks on the user's path: the forkd CLI against a real API and
// hostd. Two tenants each make a network `app` on the same subnet; containers
// of one tenant talk by name, the other tenant's `web` (same name, same
// address) is never reached; bad input is refused with the field named and
// nothing half-made; a removed network leaves nothing on the host.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { netnsName } from '../services/hostd/network/names.js';
import { runCli, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
let other: NodeJS.ProcessEnv;
const LONG = { timeoutMs: 600_000 };
const serve = (word: string): string[] => ['sh', '-c', `mkdir -p /www && echo ${word} > /www/index.html && httpd -f -p 8080 -h /www`];

interface Inspect { id: string; name: string; network: { id: string; name: string; address: string } }

async function ok(args: string[], env: NodeJS.ProcessEnv = stack.env): Promise<string> {
  const r = await runCli(args, env, LONG);
  expect(r.code, `forkd ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** `forkd exec` a shell line; stdout and the exit code. */
async function sh(id: string, line: string, env: NodeJS.ProcessEnv = stack.env): Promise<{ out: string; code: number | null }> {
  const r = await runCli(['exec', id, '--', 'sh', '-c', line], env, LONG);
  return { out: r.stdout.trim(), code: r.code };
}

/** GET / inside container `id` from `target:8080`; the body, or null without a connection (4 s). */
async function fetchIn(id: string, target: string, env: NodeJS.ProcessEnv = stack.env): Promise<string | null> {
  const r = await sh(id, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 4 nc ${target} 8080 | tail -n 1`, env);
  return r.code === 0 && r.out.length > 0 ? r.out : null;
}

beforeAll(async () => {
  stack = await startStack({ name: 'networks', env: { FORKD_POOL_SIZE: '0' } });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-networks-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  await ok(['tenant', 'create', 'globex']);
  other = { ...stack.env, FORKD_API_KEY: (await ok(['key', 'create', '--tenant', 'globex'])).trim() };
  for (const env of [stack.env, other]) await ok(['image', 'import', join(work, 'busybox.tar')], env);
}, 600_000);

afterAll(async () => {
  for (const env of [stack.env, other]) {
    if (!env) continue;
    const ps = await runCli(['ps', '-a', '--json'], env).catch(() => null);
    for (const c of ps?.code === 0 ? (JSON.parse(ps.stdout) as { id: string }[]) : []) await runCli(['rm', '-f', c.id], env);
    await runCli(['network', 'rm', 'app'], env).catch(() => null);
  }
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('networks of two tenants with the same name and subnet', () => {
  let web: Inspect;
  let client: Inspect;
  let theirs: Inspect;

  beforeAll(async () => {
    await ok(['network', 'create', 'app', '--subnet', '10.89.7.0/24']);
    await ok(['network', 'create', 'app', '--subnet', '10.89.7.0/24'], other);
    await ok(['run', '-d', '--name', 'web', '--network', 'app', 'busybox', '--', ...serve('ours')]);
    await ok(['run', '-d', '--name', 'client', '--network', 'app', 'busybox', '--', 'sh', '-c', 'while true; do sleep 60; done']);
    await ok(['run', '-d', '--name', 'web', '--network', 'app', 'busybox', '--', ...serve('theirs')], other);
    web = JSON.parse(await ok(['inspect', 'web'])) as Inspect;
    client = JSON.parse(await ok(['inspect', 'client'])) as Inspect;
    theirs = JSON.parse(await ok(['inspect', 'web'], other)) as Inspect;
  }, 1_200_000);

  it('hands out addresses from each tenant\'s own subnet, the same ones for both', () => {
    expect(web.network).toMatchObject({ name: 'app', address: '10.89.7.2' });
    expect(client.network).toMatchObject({ name: 'app', address: '10.89.7.3' });
    expect(theirs.network).toMatchObject({ name: 'app', address: '10.89.7.2' });
    expect(theirs.network.id).not.toBe(web.network.id);
  });

  it('lets one tenant\'s containers talk by name', async () => {
    expect(await fetchIn(client.id, 'web')).toBe('ours');
  });

  it('never lets the other tenant reach them, by any address', async () => {
    expect(await fetchIn(theirs.id, 'web', other)).toBe('theirs'); // positive control: the same probe works for them
    expect(await fetchIn(theirs.id, '10.89.7.3', other)).toBeNull();
    const theirHosts = (await sh(theirs.id, 'cat /etc/hosts', other)).out;
    expect(theirHosts).toContain('web');
    expect(theirHosts).not.toContain('client');
  });

  it('refuses to delete a network in use, naming who uses it', async () => {
    const r = await runCli(['network', 'rm', 'app'], stack.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_CONFLICT/);
    expect(r.stderr).toMatch(/web|client/);
    // A network nobody uses is deleted by the same command.
    await ok(['network', 'create', 'spare']);
    await ok(['network', 'rm', 'spare']);
  });

  it('removes the network from the host once its containers are gone', async () => {
    await ok(['rm', '-f', 'web', 'client']);
    expect(existsSync(join('/run/netns', netnsName(web.network.id)))).toBe(true);
    await ok(['network', 'rm', 'app']);
    // The API asks the network's host to remove it after the row is gone; it does not wait for the host.
    const deadline = Date.now() + 30_000;
    while (existsSync(join('/run/netns', netnsName(web.network.id))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(join('/run/netns', netnsName(web.network.id)))).toBe(false);
    // The other tenant's network is untouched.
    expect(existsSync(join('/run/netns', netnsName(theirs.network.id)))).toBe(true);
    expect(await fetchIn(theirs.id, 'web', other)).toBe('theirs');
  });
});

describe('published ports', () => {
  it('a host port another process holds is a 409 on ports, and nothing of the container is left', async () => {
    const { createServer } = await import('node:net');
    const squatter = createServer();
    await new Promise<void>((res) => squatter.listen(0, '127.0.0.1', () => res()));
    const port = (squatter.address() as { port: number }).port;
    try {
      const before = (await ok(['ps', '-a', '--json'])).trim();
      const r = await runCli(['run', '-d', '-p', `127.0.0.1:${port}:8080`, 'busybox', '--', ...serve('x')], stack.env, LONG);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/ERR_CONFLICT/);
      expect(r.stderr).toContain(`127.0.0.1:${port}`);
      expect((await ok(['ps', '-a', '--json'])).trim()).toBe(before);
    } finally {
      squatter.close();
    }
    // The same port, once free, is published.
    await ok(['run', '-d', '--name', 'freed', '-p', `127.0.0.1:${port}:8080`, 'busybox', '--', ...serve('freed')]);
    await ok(['rm', '-f', 'freed']);
  });

  it('a host port another container published is a 409 before any VM is made', async () => {
    const out = await ok(['run', '-d', '--name', 'pub', '-p', '8080', 'busybox', '--', ...serve('pub')]);
    expect(out).toBeTruthy();
    const pub = JSON.parse(await ok(['inspect', 'pub'])) as { ports: Array<{ hostAddress: string; hostPort: number }> };
    const taken = pub.ports[0]!;
    const r = await runCli(['run', '-d', '-p', `${taken.hostAddress}:${taken.hostPort}:8080`, 'busybox', '--', 'true'], stack.env, LONG);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_CONFLICT/);
    await ok(['rm', '-f', 'pub']);
    // Released with its container: the same host port can be published again.
    const again = await runCli(['run', '-d', '--name', 'pub2', '-p', `${taken.hostAddress}:${taken.hostPort}:8080`, 'busybox', '--', ...serve('pub2')], stack.env, LONG);
    expect(again.code, again.stderr).toBe(0);
    await ok(['rm', '-f', 'pub2']);
  });
});

describe('bad input', () => {
  it('is refused with the field named, and nothing is made', async () => {
    const before = (await ok(['network', 'ls', '--json'])).trim();
    const cases: Array<[string[], RegExp]> = [
      [['network', 'create', 'bad', '--subnet', '10.89.9.5/24'], /subnet/],
      [['network', 'create', 'bad', '--subnet', 'ten.0.0.0/8'], /subnet/],
      [['network', 'create', 'bad', '--subnet', '100.127.0.0/24'], /subnet/],
      [['run', '-d', '--network', 'nosuch', 'busybox', '--', 'true'], /network/],
      [['run', '-d', '-p', '1.2.3:80:80', 'busybox', '--', 'true'], /-p|port/i],
      [['run', '-d', '-p', '8080/udp', 'busybox', '--', 'true'], /tcp/i],
    ];
    for (const [args, field] of cases) {
      const r = await runCli(args, stack.env, LONG);
      expect(r.code, `forkd ${args.join(' ')} should fail`).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(field);
    }
    // The same commands with good input work.
    await ok(['run', '--rm', '--network', 'default', '-p', '127.0.0.1::80', 'busybox', '--', 'true']);
    await ok(['network', 'create', 'first', '--subnet', '10.89.20.0/24']);
    const overlap = await runCli(['network', 'create', 'second', '--subnet', '10.89.20.128/25'], stack.env);
    expect(overlap.code).not.toBe(0);
    expect(overlap.stderr).toMatch(/subnet/);
    await ok(['network', 'rm', 'first']);
    expect((await ok(['network', 'ls', '--json'])).trim()).toBe(before);
    expect(JSON.parse(await ok(['ps', '-a', '--json']))).toEqual([]);
  });
});
