// The libraries people build on the Docker Engine API drive forkd unmodified:
// dockerode (npm) and docker-py (python3-docker), with the unprefixed paths,
// the array form of filters and the non-hijacked attach they use.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { runCli, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
let docker: Docker;
let socketPath: string;

beforeAll(async () => {
  stack = await startStack({ name: 'docker-clients' });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-docker-clients-'));
  await buildBusyboxImage(join(work, 'busybox.tar'), {});
  const imported = await runCli(['image', 'import', join(work, 'busybox.tar')], stack.env);
  expect(imported.code, imported.stderr).toBe(0);
  socketPath = join(stack.dataDir, 'docker.sock');
  docker = new Docker({ socketPath });
}, 900_000);

afterAll(async () => {
  const ps = await runCli(['ps', '-a', '--json'], stack.env).catch(() => null);
  for (const c of ps?.code === 0 ? (JSON.parse(ps.stdout) as { id: string }[]) : []) await runCli(['rm', '-f', c.id], stack.env);
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Docker's multiplexed stream, split into stdout and stderr text. */
function demux(raw: NodeJS.ReadableStream): Promise<{ out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d: Buffer) => { o += d.toString(); });
  err.on('data', (d: Buffer) => { e += d.toString(); });
  docker.modem.demuxStream(raw, out, err);
  return new Promise((resolve, reject) => {
    raw.on('end', () => resolve({ out: o, err: e }));
    raw.on('error', reject);
  });
}

describe('dockerode', () => {
  it('runs a container on a named volume, and a second container reads back what the first wrote', async () => {
    await docker.createVolume({ Name: 'dockerode-data' });
    const writer = await docker.createContainer({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'echo kept > /data/note; echo wrote; echo to-stderr >&2'],
      HostConfig: { Binds: ['dockerode-data:/data'] },
    });
    const attached = await writer.attach({ stream: true, stdout: true, stderr: true });
    const output = demux(attached);
    await writer.start();
    expect(await writer.wait()).toMatchObject({ StatusCode: 0 });
    expect(await output).toEqual({ out: 'wrote\n', err: 'to-stderr\n' });
    await writer.remove();

    const reader = await docker.createContainer({ Image: 'busybox', Cmd: ['cat', '/data/note'], HostConfig: { Binds: ['dockerode-data:/data'] } });
    await reader.start();
    expect(await reader.wait()).toMatchObject({ StatusCode: 0 });
    const logs = (await reader.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    expect(logs.subarray(8).toString()).toBe('kept\n'); // one stdout frame: 8-byte header, then the bytes
    await reader.remove();
    await docker.getVolume('dockerode-data').remove();
    expect((await docker.listVolumes()).Volumes ?? []).toEqual([]);
  });

  it('lists with the array form of filters and answers unknown ids with 404 and Docker\'s wording', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '600'], Labels: { suite: 'dockerode' } });
    await c.start();
    const listed = await docker.listContainers({ filters: { label: ['suite=dockerode'] } });
    expect(listed.map((x) => x.Id)).toEqual([c.id]);
    expect(listed[0]!.Labels).toEqual({ suite: 'dockerode' });
    const none = await docker.listContainers({ filters: { label: ['suite=other'] } });
    expect(none).toEqual([]);
    await c.remove({ force: true });
    await expect(docker.getContainer('no-such-container').inspect()).rejects.toMatchObject({ statusCode: 404, message: expect.stringMatching(/No such container: no-such-container/) });
  });

  it('sees a container\'s lifecycle on the event stream, die with its exit code', async () => {
    const events = (await docker.getEvents({ filters: { type: ['container'] } })) as NodeJS.ReadableStream;
    const seen: { Action: string; Actor: { Attributes: Record<string, string> } }[] = [];
    let buf = '';
    events.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) { seen.push(JSON.parse(buf.slice(0, nl))); buf = buf.slice(nl + 1); }
    });
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'exit 7'] });
    await c.start();
    expect(await c.wait()).toMatchObject({ StatusCode: 7 });
    await c.remove();
    for (let i = 0; i < 60 && !seen.some((e) => e.Action === 'destroy'); i++) await new Promise((r) => setTimeout(r, 500));
    (events as unknown as { destroy(): void }).destroy();
    const actions = seen.map((e) => e.Action);
    expect(actions.filter((a) => ['create', 'start', 'die', 'destroy'].includes(a))).toEqual(['create', 'start', 'die', 'destroy']);
    expect(seen.find((e) => e.Action === 'die')!.Actor.Attributes['exitCode']).toBe('7');
  });
});

describe('docker-py', () => {
  it('runs a container and reads its output and exit code', async () => {
    const script = [
      'import docker',
      `c = docker.DockerClient(base_url="unix://${socketPath}", version="auto")`,
      'print(c.containers.run("busybox", ["sh", "-c", "echo from-python"], remove=True).decode(), end="")',
      'try:',
      '    c.containers.run("busybox", ["sh", "-c", "exit 4"], remove=True)',
      'except docker.errors.ContainerError as e:',
      '    print("exit", e.exit_status)',
    ].join('\n');
    const { stdout } = await promisify(execFile)('python3', ['-c', script], { timeout: 600_000 });
    expect(stdout).toBe('from-python\nexit 4\n');
  });
});
