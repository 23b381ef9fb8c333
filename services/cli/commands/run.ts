import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import type { Command } from '../command.js';
import { parsePublish } from '../publish.js';
import { parseVolumeFlag } from '../volume-flag.js';
import { followOperation, ProgressPrinter, type OperationView } from '../operation-follow.js';
import { runSocket, terminalSize } from '../interactive.js';
import { EarlyLogs, logsPath } from '../early-logs.js';
import { pipeNdjson } from '../streams.js';
import type { ContainerView } from './containers.js';
import { runFromSnapshot } from './fork.js';

function num(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ForkdError('ERR_VALIDATION', `${flag} must be a number (got ${JSON.stringify(v)})`, { field: flag });
  return n;
}

export const runCommand: Command = {
  path: ['run'],
  summary: 'Run a container in its own VM; streams its output and exits with its exit code (progress of the create goes to stderr)',
  usage: 'forkd run [--rm] [-d] [-i] [-t] [--name N] [--network NET] [-e K=V]… [-m MiB] [--cpus N] [-p [HOSTIP:]HOSTPORT:PORT[/tcp] | -p PORT]… [--vm-memory MiB] [--vcpus N] [-v VOLUME:/path[:ro]]… [--boot cold|fork] [-w DIR] [--pod POD [--pids N]] IMAGE [-- CMD…] | forkd run --template SNAPSHOT [--name N]',
  options: {
    rm: { type: 'boolean' },
    detach: { type: 'boolean', short: 'd' },
    name: { type: 'string' },
    network: { type: 'string' },
    env: { type: 'string', short: 'e', multiple: true },
    memory: { type: 'string', short: 'm' },
    cpus: { type: 'string' },
    publish: { type: 'string', short: 'p', multiple: true },
    volume: { type: 'string', short: 'v', multiple: true },
    'vm-memory': { type: 'string' },
    vcpus: { type: 'string' },
    boot: { type: 'string' },
    workdir: { type: 'string', short: 'w' },
    entrypoint: { type: 'string' },
    interactive: { type: 'boolean', short: 'i' },
    tty: { type: 'boolean', short: 't' },
    template: { type: 'string' },
    // docs/pods.md: run in a pod's VM (its memory and pids budget: -m and --pids).
    pod: { type: 'string' },
    pids: { type: 'string' },
  },
  positionals: true,
  async run({ values, positionals }) {
    // A snapshot's container, continuing where it was frozen (commands/fork.ts): no image, no command.
    if (values.template) return runFromSnapshot(String(values.template), values);
    const [image, ...command] = positionals;
    if (!image) throw new ForkdError('ERR_VALIDATION', `usage: ${runCommand.usage}`, { field: 'image' });
    for (const e of (values.env as string[] | undefined) ?? []) {
      if (!e.includes('=')) throw new ForkdError('ERR_VALIDATION', `-e wants KEY=VALUE (got ${JSON.stringify(e)})`, { field: 'env' });
    }
    if (values.boot !== undefined && values.boot !== 'cold' && values.boot !== 'fork') {
      throw new ForkdError('ERR_VALIDATION', '--boot must be cold or fork', { field: 'boot' });
    }
    const ports = ((values.publish as string[] | undefined) ?? []).map(parsePublish);
    // A volume name that does not exist yet is created by the API (as `docker run -v` does).
    const volumes = ((values.volume as string[] | undefined) ?? []).map(parseVolumeFlag);
    const vmMemory = num('--vm-memory', values['vm-memory']);
    const vcpus = num('--vcpus', values.vcpus);
    const interactive = values.interactive === true;
    const tty = values.tty === true;
    const size = tty ? terminalSize() : undefined;
    const body = {
      image,
      ...(command.length ? { command } : {}),
      ...(values.entrypoint ? { entrypoint: [String(values.entrypoint)] } : {}),
      ...(values.env ? { env: values.env } : {}),
      ...(values.name ? { name: values.name } : {}),
      ...(values.network ? { network: values.network } : {}),
      ...(values.memory ? { memoryMib: num('-m', values.memory) } : {}),
      ...(values.cpus ? { cpus: num('--cpus', values.cpus) } : {}),
      ...(values.workdir ? { workingDir: values.workdir } : {}),
      ...(values.boot ? { boot: values.boot } : {}),
      ...(vmMemory || vcpus ? { vm: { ...(vmMemory ? { memoryMib: vmMemory } : {}), ...(vcpus ? { vcpus } : {}) } } : {}),
      ...(ports.length ? { ports } : {}),
      ...(volumes.length ? { volumes } : {}),
      ...(interactive ? { openStdin: true } : {}),
      ...(tty ? { tty: true, ...(size ? { consoleSize: size } : {}) } : {}),
      ...(values.pod ? { pod: values.pod } : {}),
      ...(values.pids ? { pids: num('--pids', values.pids) } : {}),
    };
    const api = ApiClient.fromEnv();
    const started = Date.now();
    // The API answers at once with an operation; the VM (and its template, on first use) comes after.
    const { operation } = await api.request<{ operation: OperationView }>('POST', '/v1/containers', body);
    const printer = new ProgressPrinter(process.stderr, `starting ${image}`);
    // Its output streams from the moment the container starts (early-logs.ts). Not for an attach
    // (it replays what was written), nor a pod's container (the pod's VM runs already: no create to wait for).
    const early = !values.detach && !interactive && !tty && !values.pod && operation.targetId
      ? new EarlyLogs(api, operation.targetId, () => printer.silence())
      : null;
    let c: ContainerView;
    try {
      c = await followOperation<ContainerView>(api, operation, printer);
    } catch (err) {
      early?.cancel();
      throw err;
    }
    if (process.stderr.isTTY) process.stderr.write(`forkd: ${c.name} running in ${c.vm.domainName} (${c.vm.boot}, ${Date.now() - started} ms)${c.network ? ` on ${c.network.name} as ${c.network.address}` : ''}\n`);
    for (const p of c.ports) process.stderr.write(`forkd: ${p.hostAddress}:${p.hostPort} -> ${p.containerPort}\n`);
    if (values.detach) {
      process.stdout.write(`${c.id}\n`);
      return 0;
    }
    const remove = async () => { if (values.rm) await api.request('DELETE', `/v1/containers/${c.id}?force=true`).catch(() => {}); };
    process.once('SIGINT', () => { void remove().then(() => process.exit(130)); });
    try {
      if (interactive || tty) {
        // Attach with the replay: the container started with the create, and what it printed since is not lost.
        const code = await runSocket(api, `/v1/containers/${c.id}/attach`, { stdin: interactive, logs: true, stream: true }, { stdin: interactive, tty });
        return code;
      }
      if (early) await early.finish();
      else await pipeNdjson(await api.fetch('GET', logsPath(c.id)));
      const done = await api.request<ContainerView>('POST', `/v1/containers/${c.id}/wait`);
      if (done.oomKilled) process.stderr.write(`forkd: ${c.name} was killed: out of memory\n`);
      return done.exitCode ?? 1;
    } finally {
      early?.cancel();
      await remove();
    }
  },
};
