// The Docker Engine API driven by the real docker CLI (28.x here; Debian's
// docker.io client where none is installed) against a running forkd: each
// container in its own VM, made, attached, waited on and removed as the CLI
// expects. One stack for the file; guests run under TCG, so containers are few.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { dockerClient, ensureDockerCli, rawRequest, type DockerResult } from './docker-cli.js';
import { startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
let socket: string;
let docker: ReturnType<typeof dockerClient>;
let tcpPort: number;

/** A port free right now on loopback, for FORKD_DOCKER_LISTEN. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const ok = (r: DockerResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

/** Sends an upgraded request, reads until `marker`, then drops the connection; a 429 (slots not back yet) is retried up to 20 times. */
async function dropAfterFirst(request: () => string, marker: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const answer = await new Promise<'dropped' | string>((resolve, reject) => {
      const s = connect(socket, () => s.write(request()));
      let seen = '';
      s.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        if (seen.startsWith('HTTP/1.1 101 UPGRADED\r\n') && seen.includes(marker)) { s.destroy(); resolve('dropped'); }
      });
      s.on('error', reject);
      // A stream that ends before its first frame is an answer to report (or retry), not a hang until the test's timeout.
      s.on('close', () => resolve(seen));
    });
    if (answer === 'dropped') return;
    if (!answer.startsWith('HTTP/1.1 429') || attempt >= 20) throw new Error(`the stream ended before its output: ${JSON.stringify(answer)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  ensureDockerCli();
  // Three streams per tenant: a stream leaked by a client that went away would soon show as 429s.
  tcpPort = await freePort();
  stack = await startStack({ name: 'docker', env: { FORKD_STREAMS_PER_TENANT: '3', FORKD_DOCKER_LISTEN: `127.0.0.1:${tcpPort}` } });
  socket = join(stack.dataDir, 'docker.sock');
  docker = dockerClient(socket);
  work = mkdtempSync(join(tmpdir(), 'forkd-test-docker-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const load = await docker(['load', '-i', join(work, 'busybox.tar')]);
  ok(load);
  expect(load.stdout).toMatch(/Loaded image: busybox:latest/);
});

afterAll(async () => {
  // A failed set-up may have no client or no server: then there is nothing to clean.
  const ps = await docker?.(['ps', '-aq']).catch(() => null);
  for (const id of ps?.stdout.split('\n').filter(Boolean) ?? []) await docker(['rm', '-f', id]);
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the endpoint', () => {
  it('is a unix socket only its owner may open', () => {
    expect(statSync(socket).mode & 0o777).toBe(0o600);
  });

  it('answers /_ping with the headers the CLI negotiates from', async () => {
    const r = await rawRequest(socket, 'HEAD', '/_ping');
    expect(r.status).toBe(200);
    expect(r.headers['api-version']).toBe('1.50');
    expect(r.headers['ostype']).toBe('linux');
    expect(r.headers['swarm']).toBe('inactive');
    expect(r.headers['builder-version']).toBe('1');
  });

  it('serves versioned and unprefixed paths, and refuses versions out of range in Docker\'s words', async () => {
    for (const path of ['/version', '/v1.24/version', '/v1.50/version']) {
      const r = await rawRequest(socket, 'GET', path);
      expect(r.status, path).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ ApiVersion: '1.50', MinAPIVersion: '1.24' });
    }
    const old = await rawRequest(socket, 'GET', '/v1.12/version');
    expect(old.status).toBe(400);
    expect(old.headers['content-type']).toBe('application/json');
    expect(JSON.parse(old.body).message).toMatch(/client version 1.12 is too old. Minimum supported API version is 1.24/);
    const young = await rawRequest(socket, 'GET', '/v1.99/version');
    expect(young.status).toBe(400);
    expect(JSON.parse(young.body).message).toMatch(/too new/);
  });

  it('on TCP, wants a forkd key and acts for that key\'s tenant', async () => {
    const url = `http://127.0.0.1:${tcpPort}`;
    const anonymous = await fetch(`${url}/v1.50/containers/json`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toBe('application/json');
    expect(((await anonymous.json()) as { message: string }).message).toMatch(/missing API key/);
    const wrong = await fetch(`${url}/containers/json`, { headers: { authorization: 'Bearer fk_nosuchkey' } });
    expect(wrong.status).toBe(401);
    const admin = await fetch(`${url}/images/json`, { headers: { authorization: `Bearer ${stack.adminKey}` } });
    expect(admin.status).toBe(200);
    expect(((await admin.json()) as Array<{ RepoTags: string[] }>).flatMap((i) => i.RepoTags)).toContain('busybox:latest');
    // A tenant's key sees that tenant's images only: none yet.
    const tenant = await stack.api('/v1/tenants', { method: 'POST', body: JSON.stringify({ name: 'dockertenant' }), headers: { 'content-type': 'application/json' } });
    expect(tenant.status).toBe(201);
    const made = await stack.api('/v1/keys', { method: 'POST', body: JSON.stringify({ tenant: 'dockertenant' }), headers: { 'content-type': 'application/json' } });
    const key = ((await made.json()) as { key: string }).key;
    const theirs = await fetch(`${url}/images/json`, { headers: { authorization: `Bearer ${key}` } });
    expect(await theirs.json()).toEqual([]);
  });

  it('docker version and docker info talk to forkd', async () => {
    const v = await docker(['version', '--format', '{{.Server.APIVersion}} {{.Client.APIVersion}}']);
    ok(v);
    expect(v.stdout.trim()).toBe('1.50 1.50');
    const i = await docker(['info', '--format', '{{.OperatingSystem}} {{.Driver}}']);
    ok(i);
    expect(i.stdout.trim()).toBe('forkd forkd-vm');
  });
});

describe('images', () => {
  it('lists, inspects, tags and removes a tag', async () => {
    const ls = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    ok(ls);
    expect(ls.stdout.split('\n')).toContain('busybox:latest');
    const inspect = await docker(['image', 'inspect', 'busybox', '--format', '{{.Os}} {{len .RootFS.Layers}}']);
    ok(inspect);
    expect(inspect.stdout.trim()).toMatch(/^linux [1-9]/);
    ok(await docker(['tag', 'busybox', 'mybox:v1']));
    expect((await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n')).toContain('mybox:v1');
    const rmi = await docker(['rmi', 'mybox:v1']);
    ok(rmi);
    expect(rmi.stdout).toMatch(/Untagged: mybox:v1/);
    // Untagging one name leaves the image.
    expect((await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n')).toContain('busybox:latest');
  });

  it('saves an image that loads back under its name', async () => {
    const file = join(work, 'saved.tar');
    ok(await docker(['save', '-o', file, 'busybox']));
    expect(statSync(file).size).toBeGreaterThan(100_000);
    ok(await docker(['tag', 'busybox', 'roundtrip:1']));
    ok(await docker(['rmi', 'roundtrip:1']));
    const load = await docker(['load', '-i', file]);
    ok(load);
    expect(load.stdout).toMatch(/Loaded image: busybox:latest/);
  });

  it('refuses unknown images and pulls with how to load one', async () => {
    const rmi = await docker(['rmi', 'nosuchimage']);
    expect(rmi.code).not.toBe(0);
    expect(rmi.stderr).toMatch(/No such image: nosuchimage/);
    const run = await docker(['run', '--rm', 'nosuchimage', 'true']);
    expect(run.code).toBe(125);
    expect(run.stderr).toMatch(/No such image: nosuchimage:latest/);
    expect(run.stderr).toMatch(/docker load/);
  });
});

describe('docker run', () => {
  it('prints what the container prints and exits with its code; --rm leaves nothing', async () => {
    const r = await docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo hi; exit 3'], { timeoutMs: 900_000 });
    expect(r.stdout, r.stderr).toBe('hi\n');
    expect(r.code).toBe(3);
    const ps = await docker(['ps', '-aq']);
    ok(ps);
    expect(ps.stdout.trim()).toBe('');
    const forkd = (await (await stack.api('/v1/containers?all=true')).json()) as { containers: unknown[] };
    expect(forkd.containers).toEqual([]);
  });

  it('exits 127 when the command does not exist, and --rm still removes the container', async () => {
    const r = await docker(['run', '--rm', 'busybox', '/no/such/program']);
    expect(r.code, r.stderr).toBe(127);
    expect((await docker(['ps', '-aq'])).stdout.trim()).toBe('');
  });

  it('with -i, the container reads the client\'s stdin to its end (echo x | docker run --rm -i busybox cat)', async () => {
    const r = await docker(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'x\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('x\n');
    // Without -i the same command's stdin is closed: cat ends at once with nothing.
    const closed = await docker(['run', '--rm', 'busybox', 'cat'], { input: 'not forwarded\n' });
    expect(closed.code, closed.stderr).toBe(0);
    expect(closed.stdout).toBe('');
  });

  it('with -it under a terminal (script), the container sees a tty of the client\'s size', async () => {
    const r = await docker(['run', '--rm', '-it', 'busybox', 'sh', '-c', 'test -t 0 && echo is-a-tty; stty size'], { terminal: { rows: 33, cols: 101 } });
    // Under a terminal the client's errors go to the terminal too: stdout.
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('is-a-tty\r\n');
    expect(r.stdout).toContain('33 101\r\n');
  });

  it('keeps stdout and stderr apart', async () => {
    const r = await docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
  });

  it('runs detached with a name, env, working directory and a published port; ps, logs, exec, inspect, stop, rm', async () => {
    const run = await docker(['run', '-d', '--name', 'web', '-e', 'GREETING=hello', '-w', '/tmp', '-p', '127.0.0.1::8080', 'busybox',
      'sh', '-c', 'echo $GREETING in $(pwd); while true; do sleep 1; done']);
    ok(run);
    const id = run.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{32}$/);

    const ps = await docker(['ps', '--format', '{{.Names}} {{.Image}} {{.ID}}']);
    ok(ps);
    expect(ps.stdout.trim()).toBe(`web busybox ${id.slice(0, 12)}`);
    const filtered = await docker(['ps', '-a', '--filter', 'name=nosuch', '-q']);
    ok(filtered);
    expect(filtered.stdout.trim()).toBe('');

    const inspect = await docker(['inspect', 'web', '--format', '{{.Name}} {{.State.Status}} {{.State.Running}} {{json .Config.Labels}} {{len .NetworkSettings.Ports}}']);
    ok(inspect);
    expect(inspect.stdout.trim()).toBe('/web running true {} 1');
    // A unique id prefix names it too.
    ok(await docker(['inspect', id.slice(0, 8)]));

    const logs = await docker(['logs', 'web']);
    ok(logs);
    expect(logs.stdout).toBe('hello in /tmp\n');

    const exec = await docker(['exec', 'web', 'sh', '-c', 'echo from exec; exit 4']);
    expect(exec.stdout).toBe('from exec\n');
    expect(exec.code).toBe(4);
    // exec -i: stdin to its end; exec -it: a terminal of the client's size, and the exit code.
    const piped = await docker(['exec', '-i', 'web', 'wc', '-l'], { input: 'a\nb\n' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout.trim()).toBe('2');
    const tty = await docker(['exec', '-it', 'web', 'sh', '-c', 'test -t 0 && echo exec-tty; stty size; exit 5'], { terminal: { rows: 20, cols: 70 } });
    expect(tty.stdout, tty.stderr).toContain('exec-tty\r\n');
    expect(tty.stdout).toContain('20 70\r\n');
    expect(tty.code).toBe(5);

    const stats = await docker(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'web']);
    ok(stats);
    expect(stats.stdout.trim()).toMatch(/^web [1-9]\d*$/);

    // logs -f follows until the container stops.
    const follow = docker(['logs', '-f', 'web']);
    ok(await docker(['stop', '-t', '1', 'web']));
    const followed = await follow;
    ok(followed);
    expect(followed.stdout).toBe('hello in /tmp\n');
    const stopped = await docker(['inspect', 'web', '--format', '{{.State.Status}}']);
    expect(stopped.stdout.trim()).toBe('exited');

    const waited = await docker(['wait', 'web']);
    ok(waited);
    expect(waited.stdout.trim()).toMatch(/^\d+$/);
    // Without Upgrade (dockerode, testcontainers): a plain 200 raw stream, multiplexed, ending at its end.
    const plain = await rawRequest(socket, 'POST', `/containers/${id}/attach?logs=1&stream=0&stdout=1&stderr=1`);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('application/vnd.docker.raw-stream');
    expect(plain.body.slice(8)).toBe('hello in /tmp\n');

    const exited = await docker(['exec', 'web', 'true']);
    expect(exited.code).not.toBe(0);
    expect(exited.stderr).toMatch(/is not running/);

    ok(await docker(['rm', '-f', 'web']));
    const gone = await docker(['container', 'inspect', 'web']);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/No such container: web/);
  });
});

describe('events', () => {
  it('docker events replays a container\'s create, start, die (with its exit code) and destroy between --since and --until', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const run = await docker(['run', '--rm', '--name', 'evented', 'busybox', 'sh', '-c', 'exit 4'], { timeoutMs: 900_000 });
    expect(run.code, run.stderr).toBe(4);
    const until = Math.floor(Date.now() / 1000) + 2;
    await new Promise((r) => setTimeout(r, 2500)); // until must be in the past for the CLI to end
    const r = await docker(['events', '--since', String(since), '--until', String(until), '--filter', 'container=evented', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}']);
    ok(r);
    expect(r.stdout.trim().split('\n').map((l) => l.replace('<no value>', '').trim())).toEqual(['container create evented', 'container start evented', 'container die evented 4', 'container destroy evented']);
    // Positive control for the filter: another name's events are not in it.
    const other = await docker(['events', '--since', String(since), '--until', String(until), '--filter', 'container=not-evented']);
    ok(other);
    expect(other.stdout).toBe('');
  });
});

describe('volumes', () => {
  it('volume create, ls, inspect and rm; -v mounts a named volume a later container reads back', async () => {
    ok(await docker(['volume', 'create', '--label', 'suite=docker', 'notes']));
    // Creating an existing name answers that volume, as Docker does.
    ok(await docker(['volume', 'create', 'notes']));
    const ls = await docker(['volume', 'ls', '--filter', 'label=suite=docker', '--format', '{{.Name}} {{.Driver}}']);
    ok(ls);
    expect(ls.stdout.trim()).toBe('notes local');
    const write = await docker(['run', '--rm', '-v', 'notes:/data', 'busybox', 'sh', '-c', 'echo kept > /data/n']);
    expect(write.code, write.stderr).toBe(0);
    const read = await docker(['run', '--name', 'reader', '-v', 'notes:/data:ro', 'busybox', 'sh', '-c', 'cat /data/n; touch /data/x 2>/dev/null || echo read-only']);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toBe('kept\nread-only\n');
    const mounts = await docker(['inspect', 'reader', '--format', '{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}}{{end}}']);
    expect(mounts.stdout.trim()).toBe('volume notes /data false');
    ok(await docker(['rm', 'reader']));
    ok(await docker(['volume', 'rm', 'notes']));
    expect((await docker(['volume', 'ls', '-q'])).stdout.trim()).toBe('');
  });

  it('refuses a host path with a clear error: forkd has no host bind mounts', async () => {
    const r = await docker(['run', '--rm', '-v', '/etc:/host-etc', 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/host bind mounts are not supported by forkd/);
    // The positive control: the same run without the mount works.
    ok(await docker(['run', '--rm', 'busybox', 'true']));
  });

  it('refuses removing a volume a running container holds, in Docker\'s words', async () => {
    const run = await docker(['run', '-d', '-v', 'held:/data', 'busybox', 'sleep', '600']);
    ok(run);
    const rm = await docker(['volume', 'rm', 'held']);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toMatch(/volume is in use/);
    ok(await docker(['rm', '-f', run.stdout.trim()]));
    ok(await docker(['volume', 'rm', 'held']));
  });
});

describe('networks', () => {
  it('creates, lists, inspects and removes a tenant network; bridge is the default one', async () => {
    const created = await docker(['network', 'create', 'appnet']);
    ok(created);
    const ls = await docker(['network', 'ls', '--format', '{{.Name}}']);
    ok(ls);
    expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['appnet', 'default']));
    const inspect = await docker(['network', 'inspect', 'appnet', '--format', '{{.Driver}} {{(index .IPAM.Config 0).Subnet}}']);
    ok(inspect);
    expect(inspect.stdout.trim()).toMatch(/^bridge \d+\.\d+\.\d+\.\d+\/\d+$/);
    ok(await docker(['network', 'inspect', 'bridge']));
    ok(await docker(['network', 'rm', 'appnet']));
    const gone = await docker(['network', 'inspect', 'appnet']);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/not found/);
  });
});

describe('bad input', () => {
  it('names unknown containers, images and exec instances as clients expect', async () => {
    for (const [path, message] of [
      ['/containers/nosuch/json', 'No such container: nosuch'],
      ['/images/nosuch/json', 'No such image: nosuch'],
      ['/exec/nosuch/json', 'No such exec instance: nosuch'],
    ] as const) {
      const r = await rawRequest(socket, 'GET', path);
      expect(r.status, path).toBe(404);
      expect(r.headers['content-type']).toBe('application/json');
      expect(JSON.parse(r.body)).toEqual({ message });
    }
    const exec = await docker(['exec', 'nosuch', 'true']);
    expect(exec.stderr).toMatch(/No such container: nosuch/);
  });

  it('refuses a malformed create body with a 400 naming the fault, and makes nothing', async () => {
    const before = (await docker(['ps', '-aq'])).stdout;
    const bad = await rawRequest(socket, 'POST', '/v1.50/containers/create', '{"Image": "busybox", ');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/invalid JSON/);
    const noImage = await rawRequest(socket, 'POST', '/containers/create', JSON.stringify({ Cmd: ['true'] }));
    expect(noImage.status).toBe(400);
    expect(JSON.parse(noImage.body).message).toMatch(/Image/);
    const badEnv = await rawRequest(socket, 'POST', '/containers/create', JSON.stringify({ Image: 'busybox', Env: ['=x'] }));
    expect(badEnv.status).toBe(400);
    expect((await docker(['ps', '-aq'])).stdout).toBe(before);
  });

  it('says an unsupported endpoint is not supported, at once', async () => {
    const build = await docker(['build', '-t', 'x', '-'], { input: 'FROM busybox\n', env: { DOCKER_BUILDKIT: '0' } });
    expect(build.code).not.toBe(0);
    expect(build.stderr).toMatch(/building images \(docker build\) is not supported by forkd/);
    const swarm = await rawRequest(socket, 'GET', '/swarm');
    expect(swarm.status).toBe(501);
    expect(JSON.parse(swarm.body).message).toMatch(/swarm mode is not supported/);
    const unknown = await rawRequest(socket, 'GET', '/no/such/thing');
    expect(unknown.status).toBe(404);
  });

  it('lets a client go mid-attach or mid-exec without leaking its stream', async () => {
    const run = await docker(['run', '-d', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 1; done']);
    ok(run);
    const id = run.stdout.trim();
    // More attaches than the tenant's stream slots, each dropped after its 101 and first frame. A slot comes back
    // once the server sees the client gone (its next write fails): a 429 meanwhile is retried, a bounded number of times.
    for (let i = 0; i < 4; i++) {
      await dropAfterFirst(() => `POST /v1.50/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`, 'tick');
    }
    // And mid-exec: an exec whose client goes away ends, its stream slot comes back; interactive ones (stdin, a TTY) too.
    for (let i = 0; i < 4; i++) {
      const interactive = i % 2 === 1;
      const made = await rawRequest(socket, 'POST', `/v1.50/containers/${id}/exec`, JSON.stringify({ Cmd: ['sh', '-c', 'while true; do echo tock; sleep 1; done'], AttachStdout: true, AttachStderr: true, AttachStdin: interactive, Tty: interactive }));
      expect(made.status).toBe(201);
      const execId = (JSON.parse(made.body) as { Id: string }).Id;
      const body = '{"Detach":false,"Tty":false}';
      await dropAfterFirst(() => `POST /v1.50/exec/${execId}/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'tock');
    }
    // The slots came back: a logs stream is still granted (after the last close is processed).
    let logs: DockerResult | undefined;
    for (let i = 0; i < 20 && logs?.code !== 0; i++) {
      logs = await docker(['logs', '--tail', '1', id]);
      if (logs.code !== 0) await new Promise((r) => setTimeout(r, 500));
    }
    ok(logs!);
    expect(logs!.stdout).toBe('tick\n');
    ok(await docker(['rm', '-f', id]));
  });
});
