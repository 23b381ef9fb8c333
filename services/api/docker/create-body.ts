// `POST /containers/create` body → forkd's container create, plus the Docker
// settings forkd does not hold. Pure: every fault is a 400 naming its field.
import { ForkdError } from '../../contracts/errors.js';
import type { PortRequest } from '../../contracts/jobs.js';
import type { CreateContainerBody } from '../containers.js';
import { DEFAULT_VM } from '../containers.js';
import type { DockerSettings } from './settings.js';
import { volumesForCreate } from './volumes.js';

const MiB = 1024 * 1024;
/** What the VM gets on top of a container memory limit (-m): the guest kernel, agent and page cache. */
export const VM_MEMORY_HEADROOM_MIB = 128;
const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

const bad = (field: string, message: string) => new ForkdError('ERR_VALIDATION', message, { field });

function strings(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw bad(field, `${field} must be a list of strings`);
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(field, `${field} must be an object`);
  return value as Record<string, unknown>;
}

/** The network a create names: HostConfig.NetworkMode, else the first of NetworkingConfig.EndpointsConfig; bridge and default are the tenant's default network. */
export function networkOf(hostConfig: Record<string, unknown>, networking: Record<string, unknown>): string {
  const endpoints = Object.keys(record(networking.EndpointsConfig, 'NetworkingConfig.EndpointsConfig'));
  const mode = typeof hostConfig.NetworkMode === 'string' && hostConfig.NetworkMode !== '' ? hostConfig.NetworkMode : endpoints[0] ?? 'default';
  if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
    throw new ForkdError('ERR_NOT_IMPLEMENTED', `network mode ${mode} is not supported by forkd (each container is a VM on a tenant network)`, { field: 'HostConfig.NetworkMode' });
  }
  return mode === 'bridge' ? 'default' : mode;
}

function portsOf(exposed: Record<string, unknown>, bindings: Record<string, unknown>, publishAll: boolean): PortRequest[] {
  const out: PortRequest[] = [];
  for (const [key, list] of Object.entries(bindings)) {
    const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!m) throw bad('HostConfig.PortBindings', `invalid port ${JSON.stringify(key)}`);
    if (m[2] && m[2] !== 'tcp') throw new ForkdError('ERR_NOT_IMPLEMENTED', `publishing ${m[2]} ports is not supported by forkd (tcp only)`, { field: 'HostConfig.PortBindings' });
    for (const b of (Array.isArray(list) ? list : [{}]) as Array<{ HostIp?: string; HostPort?: string }>) {
      const hostPort = b.HostPort ? Number(b.HostPort) : 0;
      if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) throw bad('HostConfig.PortBindings', `invalid host port ${JSON.stringify(b.HostPort)}`);
      out.push({ containerPort: Number(m[1]), hostPort, ...(b.HostIp ? { hostIp: b.HostIp } : {}) });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed)) {
      const port = Number(key.split('/')[0]);
      if (!out.some((p) => p.containerPort === port) && !key.endsWith('/udp')) out.push({ containerPort: port, hostPort: 0 });
    }
  }
  return out;
}

export interface ParsedCreate {
  body: CreateContainerBody;
  settings: DockerSettings;
}

export function parseCreate(raw: unknown, name: string | undefined): ParsedCreate {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('body', 'config cannot be empty in order to create a container');
  const b = raw as Record<string, unknown>;
  if (typeof b.Image !== 'string' || b.Image === '') throw bad('Image', 'Image is required: config cannot be empty in order to create a container');
  if (name !== undefined && name !== '' && !NAME.test(name)) {
    throw bad('name', `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed (at most 63 characters)`);
  }
  const hostConfig = record(b.HostConfig, 'HostConfig');
  const mounts = volumesForCreate(b, hostConfig);
  const cmd = strings(b.Cmd, 'Cmd');
  const entrypoint = strings(b.Entrypoint, 'Entrypoint');
  const env = strings(b.Env, 'Env');
  for (const e of env ?? []) if (!e.includes('=') || e.startsWith('=')) throw bad('Env', `invalid environment variable: ${e} (want NAME=value)`);
  const exposed = record(b.ExposedPorts, 'ExposedPorts');
  const bindings = record(hostConfig.PortBindings, 'HostConfig.PortBindings');
  const ports = portsOf(exposed, bindings, hostConfig.PublishAllPorts === true);
  const memoryBytes = typeof hostConfig.Memory === 'number' ? hostConfig.Memory : 0;
  const nanoCpus = typeof hostConfig.NanoCpus === 'number' ? hostConfig.NanoCpus : 0;
  const memoryMib = memoryBytes > 0 ? Math.ceil(memoryBytes / MiB) : undefined;
  if (memoryMib !== undefined && memoryMib < 8) throw bad('HostConfig.Memory', 'Minimum memory limit allowed is 8MB');
  const cpus = nanoCpus > 0 ? nanoCpus / 1e9 : undefined;
  const networking = record(b.NetworkingConfig, 'NetworkingConfig');
  const network = networkOf(hostConfig, networking);
  const aliases = aliasesOf(networking, network);
  const consoleSize = consoleSizeOf(hostConfig.ConsoleSize, b.Tty === true);
  const cleanName = name ? name.replace(/^\//, '') : undefined;
  const body: CreateContainerBody = {
    image: b.Image,
    ...(cmd && cmd.length > 0 ? { command: cmd } : {}),
    ...(entrypoint && entrypoint.length > 0 ? { entrypoint } : {}),
    ...(env ? { env } : {}),
    ...(typeof b.WorkingDir === 'string' && b.WorkingDir !== '' ? { workingDir: b.WorkingDir } : {}),
    ...(typeof b.User === 'string' && b.User !== '' ? { user: b.User } : {}),
    ...(cleanName ? { name: cleanName } : {}),
    ...(memoryMib ? { memoryMib } : {}),
    ...(cpus ? { cpus } : {}),
    // The VM is sized to fit what the container may use.
    vm: {
      vcpus: Math.max(DEFAULT_VM.vcpus, Math.ceil(cpus ?? 1)),
      memoryMib: Math.max(DEFAULT_VM.memoryMib, (memoryMib ?? 0) + VM_MEMORY_HEADROOM_MIB),
    },
    ...(ports.length > 0 ? { ports } : {}),
    network,
    ...(aliases.length > 0 ? { aliases } : {}),
    ...(mounts.volumes.length > 0 ? { volumes: mounts.volumes } : {}),
    ...(b.Tty === true ? { tty: true, ...(consoleSize ? { consoleSize } : {}) } : {}),
    ...(b.OpenStdin === true ? { openStdin: true } : {}),
    start: false,
  };
  const settings: DockerSettings = {
    image: b.Image,
    entrypoint: entrypoint ?? null,
    cmd: cmd ?? null,
    tty: b.Tty === true,
    openStdin: b.OpenStdin === true,
    attachStdin: b.AttachStdin === true,
    autoRemove: hostConfig.AutoRemove === true,
    labels: Object.fromEntries(Object.entries(record(b.Labels, 'Labels')).map(([k, v]) => [k, String(v)])),
    exposedPorts: { ...(exposed as Record<string, object>), ...Object.fromEntries(ports.map((p) => [`${p.containerPort}/tcp`, {}])) },
    portBindings: bindings as DockerSettings['portBindings'],
    networkMode: typeof hostConfig.NetworkMode === 'string' && hostConfig.NetworkMode !== '' ? hostConfig.NetworkMode : 'bridge',
    memoryBytes,
    nanoCpus,
    hostname: typeof b.Hostname === 'string' ? b.Hostname : '',
    aliases,
    anonymousVolumes: mounts.anonymous,
  };
  return { body, settings };
}

/** NetworkingConfig.EndpointsConfig[network].Aliases (compose puts the service name there); `bridge` is keyed as such. */
function aliasesOf(networking: Record<string, unknown>, network: string): string[] {
  const endpoints = record(networking.EndpointsConfig, 'NetworkingConfig.EndpointsConfig');
  const ep = record(endpoints[network] ?? (network === 'default' ? endpoints.bridge : undefined), `NetworkingConfig.EndpointsConfig.${network}`);
  return [...new Set(strings(ep.Aliases, `NetworkingConfig.EndpointsConfig.${network}.Aliases`) ?? [])];
}

/** HostConfig.ConsoleSize is [height, width]; [0, 0] (the CLI without a terminal) is no size. */
function consoleSizeOf(v: unknown, tty: boolean): { rows: number; cols: number } | undefined {
  if (!tty || !Array.isArray(v) || v.length !== 2) return undefined;
  const [rows, cols] = v as unknown[];
  if (typeof rows !== 'number' || typeof cols !== 'number' || !Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0) return undefined;
  return { rows: Math.min(rows, 1000), cols: Math.min(cols, 1000) };
}
