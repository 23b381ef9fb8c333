// docker-compose (Debian's 1.29, the python one) drives forkd's Docker Engine
// API unmodified: a two-service app whose client reaches the web server by its
// service name on the compose network, the server serving a page from a named
// volume, comes up with `up -d`, answers, and `down -v` removes every
// container, VM, network and volume it made. The same kind of app in one pod
// by label: the pod made for it and removed by `down`, or the user's pod used
// and left.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { runCli, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
let dockerEnv: NodeJS.ProcessEnv;
const PROJECT = `fkc${process.pid}`;

const COMPOSE_FILE = `version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo served-from-a-volume > /srv/index.html && exec httpd -f -p 80 -h /srv"]
    volumes:
      - pages:/srv
  client:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "for i in $$(seq 1 120); do wget -q -O - http://web/index.html && break; sleep 1; done; exec sleep 3600"]
volumes:
  pages: {}
`;

interface Run { code: number | null; stdout: string; stderr: string }
type PodJson = { byDocker: boolean; memoryMib: number; network: { name: string }; vm: { id: string }; containers: { name: string; state: string }[] };

/** The same kind of app placed in one forkd pod by label (docs/docker.md "Pods"): the services reach each other on localhost. */
const POD_PROJECT = `${PROJECT}p`;
const POD = `${POD_PROJECT}-pod`;
const POD_COMPOSE_FILE = `version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo served-in-the-pod > /www/index.html && exec httpd -f -p 8080 -h /www"]
    labels: { io.forkd.pod: ${POD} }
  client:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "for i in $$(seq 1 120); do wget -q -O - http://127.0.0.1:8080/index.html && break; sleep 1; done; exec sleep 3600"]
    labels: { io.forkd.pod: ${POD} }
`;

function compose(args: string[], timeoutMs = 900_000, project = PROJECT, file = 'docker-compose.yml'): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker-compose', ['--project-name', project, '--file', join(work, file), ...args], {
      env: dockerEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`docker-compose ${args.join(' ')} timed out; stderr: ${stderr}`)); }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

beforeAll(async () => {
  // The pod compose makes for the label has the size of the one the last test makes by hand: one bare template for both.
  stack = await startStack({ name: 'compose', env: { FORKD_DOCKER_POD_MEMORY_MIB: '384' } });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-compose-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const imported = await runCli(['image', 'import', join(work, 'busybox.tar')], stack.env);
  expect(imported.code, imported.stderr).toBe(0);
  writeFileSync(join(work, 'docker-compose.yml'), COMPOSE_FILE);
  writeFileSync(join(work, 'pod-compose.yml'), POD_COMPOSE_FILE);
  dockerEnv = { PATH: process.env.PATH, HOME: work, DOCKER_HOST: `unix://${join(stack.dataDir, 'docker.sock')}`, COMPOSE_INTERACTIVE_NO_CLI: '1' };
}, 900_000);

afterAll(async () => {
  if (work && stack) await compose(['down', '--volumes', '--timeout', '2'], 300_000).catch(() => undefined);
  if (work && stack) await compose(['down', '--timeout', '2'], 300_000, POD_PROJECT, 'pod-compose.yml').catch(() => undefined);
  if (stack) await runCli(['pod', 'rm', '--force', POD], stack.env).catch(() => undefined);
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('docker-compose against forkd', () => {
  it('brings up a web server with a named volume and a client that reaches it by service name', async () => {
    const up = await compose(['up', '--detach']);
    expect(up.code, up.stderr).toBe(0);

    const ps = await compose(['ps', '--quiet']);
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout.trim().split('\n')).toHaveLength(2);

    // The client loops (bounded: 120 tries) until the server answers, then prints the page.
    let logs = '';
    for (let i = 0; i < 150 && !logs.includes('served-from-a-volume'); i++) {
      logs = (await compose(['logs', '--no-color', 'client'])).stdout;
      if (!logs.includes('served-from-a-volume')) await new Promise((r) => setTimeout(r, 2000));
    }
    expect(logs).toContain('served-from-a-volume');

    // forkd sees the same things: two containers, the project's network and its volume.
    const containers = JSON.parse((await runCli(['ps', '--json'], stack.env)).stdout) as unknown[];
    expect(containers).toHaveLength(2);
    const volumes = await runCli(['volume', 'ls'], stack.env);
    expect(volumes.stdout).toContain(`${PROJECT}_pages`);
    const networks = await runCli(['network', 'ls'], stack.env);
    expect(networks.stdout).toContain(`${PROJECT}_default`);
  });

  it('down -v removes every container, VM, network and volume the app made', async () => {
    const down = await compose(['down', '--volumes', '--timeout', '2']);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse((await runCli(['ps', '-a', '--json'], stack.env)).stdout)).toEqual([]);
    expect((await runCli(['volume', 'ls'], stack.env)).stdout).not.toContain(`${PROJECT}_pages`);
    expect((await runCli(['network', 'ls'], stack.env)).stdout).not.toContain(`${PROJECT}_default`);
    const vms = (await (await stack.api('/v1/vms')).json()) as { vms: unknown[] };
    expect(vms.vms).toEqual([]);
  });

  it('places a project whose services carry io.forkd.pod in one pod it makes, its services talking on localhost; down removes the containers and that pod', async () => {
    // No pod of that name exists: the first container of the project makes it (FORKD_DOCKER_POD_MEMORY_MIB, set below to the size the next test's pod has).
    expect((await runCli(['pod', 'inspect', POD], stack.env)).code).not.toBe(0);
    const up = await compose(['up', '--detach'], 900_000, POD_PROJECT, 'pod-compose.yml');
    expect(up.code, up.stderr).toBe(0);
    let logs = '';
    for (let i = 0; i < 60 && !logs.includes('served-in-the-pod'); i++) {
      logs = (await compose(['logs', '--no-color', 'client'], 60_000, POD_PROJECT, 'pod-compose.yml')).stdout;
      if (!logs.includes('served-in-the-pod')) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(logs).toContain('served-in-the-pod');
    // One pod, one VM: both services' containers are in it.
    const pod = JSON.parse((await runCli(['pod', 'inspect', POD], stack.env)).stdout) as PodJson;
    expect(pod).toMatchObject({ byDocker: true, memoryMib: 384, network: { name: `${POD_PROJECT}_default` } });
    expect(pod.containers.map((c) => c.state)).toEqual(['running', 'running']);
    const vms = (await (await stack.api('/v1/vms')).json()) as { vms: { id: string }[] };
    expect(vms.vms.map((v) => v.id)).toEqual([pod.vm.id]);
    const down = await compose(['down', '--timeout', '2'], 300_000, POD_PROJECT, 'pod-compose.yml');
    expect(down.code, down.stderr).toBe(0);
    // Both services' removals succeeded (they run at once: compose logs a failed one and still exits 0), and the pod compose made went with them.
    expect(down.stderr).not.toMatch(/ERROR/);
    expect(JSON.parse((await runCli(['ps', '-a', '--json'], stack.env)).stdout)).toEqual([]);
    expect((await runCli(['pod', 'inspect', POD], stack.env)).code).not.toBe(0);
    expect(((await (await stack.api('/v1/vms')).json()) as { vms: unknown[] }).vms).toEqual([]);
  });

  it('uses a pod the user made for the label, and down leaves that pod, empty', async () => {
    const made = await runCli(['pod', 'create', POD, '--memory', '384'], stack.env, { timeoutMs: 600_000 });
    expect(made.code, made.stderr).toBe(0);
    const up = await compose(['up', '--detach', 'web'], 900_000, POD_PROJECT, 'pod-compose.yml');
    expect(up.code, up.stderr).toBe(0);
    const before = JSON.parse((await runCli(['pod', 'inspect', POD], stack.env)).stdout) as PodJson;
    expect(before).toMatchObject({ byDocker: false });
    expect(before.containers.map((c) => c.state)).toEqual(['running']);
    const down = await compose(['down', '--timeout', '2'], 300_000, POD_PROJECT, 'pod-compose.yml');
    expect(down.code, down.stderr).toBe(0);
    const after = JSON.parse((await runCli(['pod', 'inspect', POD], stack.env)).stdout) as PodJson;
    expect(after.containers).toEqual([]);
    expect(after.vm.id).toBe(before.vm.id);
    expect((await runCli(['pod', 'rm', POD], stack.env)).code).toBe(0);
  });
});
