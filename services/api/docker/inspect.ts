// forkd's container view in the shapes Docker clients read: the summary of
// `GET /containers/json` and the document of `GET /containers/{id}/json`.
// Pure: tests feed it views.
import type { ContainerView } from '../containers.js';
import { dockerId } from './ids.js';
import type { DockerSettings } from './settings.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Docker's State.Status for forkd's state; `failed` (never started, VM lost) is Docker's `dead`. */
export function dockerStatus(state: string): 'created' | 'running' | 'exited' | 'dead' {
  if (state === 'created' || state === 'running' || state === 'exited') return state;
  return 'dead';
}

/** The human Status column of `docker ps` ("Up 3 seconds", "Exited (3) 1 minute ago"). */
export function statusText(c: ContainerView, now = Date.now()): string {
  const s = dockerStatus(c.state);
  if (s === 'running') return `Up ${ago(now - Date.parse(c.startedAt ?? c.createdAt))}`;
  if (s === 'created') return 'Created';
  if (s === 'dead') return 'Dead';
  return `Exited (${c.exitCode ?? 0}) ${ago(now - Date.parse(c.finishedAt ?? c.createdAt))} ago`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'}`;
  return `${Math.round(h / 24)} days`;
}

/** What inspect falls back to for a container made through /v1, or before an API restart. */
export function defaultSettings(c: ContainerView): DockerSettings {
  return {
    image: c.image, entrypoint: null, cmd: c.command, tty: false, openStdin: false, attachStdin: false, autoRemove: false,
    labels: {}, exposedPorts: {}, portBindings: {}, networkMode: c.network?.name ?? 'default', memoryBytes: 0, nanoCpus: 0,
    hostname: c.id.slice(0, 12), aliases: [], anonymousVolumes: [],
  };
}

function portsOf(c: ContainerView): Array<{ IP: string; PrivatePort: number; PublicPort: number; Type: string }> {
  return c.ports.map((p) => ({ IP: p.hostAddress, PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: 'tcp' }));
}

/** NetworkSettings.Ports: `"80/tcp": [{HostIp, HostPort}]`, exposed but unpublished ports as null. */
function portMap(c: ContainerView, s: DockerSettings): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const k of Object.keys(s.exposedPorts)) out[k] = null;
  for (const p of c.ports) (out[`${p.containerPort}/tcp`] ??= []).push({ HostIp: p.hostAddress, HostPort: String(p.hostPort) });
  return out;
}

/** The container's named volumes as Docker's Mounts list shows them. */
function mounts(c: ContainerView) {
  return c.volumes.map((v) => ({ Type: 'volume', Name: v.name, Source: '', Destination: v.path, Driver: 'local', Mode: v.readOnly ? 'ro' : '', RW: !v.readOnly, Propagation: '' }));
}

function networks(c: ContainerView, s: DockerSettings | null): Record<string, object> {
  if (!c.network) return {};
  // Docker lists the short id among the aliases; compose reads it to tell that the create already joined the container with its aliases.
  const aliases = [...new Set([...(s?.aliases ?? []), c.name, dockerId(c.id).slice(0, 12)])];
  return {
    [c.network.name]: {
      IPAMConfig: null, Links: null, Aliases: aliases, MacAddress: '', DriverOpts: null,
      NetworkID: c.network.id, EndpointID: '', Gateway: '', IPAddress: c.network.address, IPPrefixLen: 24,
      IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: [c.name],
    },
  };
}

export function containerSummary(c: ContainerView, s: DockerSettings, imageId: string, now = Date.now()) {
  return {
    Id: dockerId(c.id),
    Names: [`/${c.name}`],
    Image: s.image,
    ImageID: imageId,
    Command: c.command.join(' '),
    Created: Math.floor(Date.parse(c.createdAt) / 1000),
    Ports: portsOf(c),
    Labels: s.labels,
    State: dockerStatus(c.state),
    Status: statusText(c, now),
    HostConfig: { NetworkMode: s.networkMode },
    NetworkSettings: { Networks: networks(c, s) },
    Mounts: mounts(c),
  };
}

export function containerInspect(c: ContainerView, s: DockerSettings, imageId: string, env: string[]) {
  const status = dockerStatus(c.state);
  const [path = '', ...args] = c.command;
  return {
    Id: dockerId(c.id),
    Created: c.createdAt,
    Path: path,
    Args: args,
    State: {
      Status: status,
      Running: status === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: c.oomKilled,
      Dead: status === 'dead',
      Pid: 0,
      ExitCode: c.exitCode ?? 0,
      Error: '',
      StartedAt: c.startedAt ?? ZERO_TIME,
      FinishedAt: c.finishedAt ?? ZERO_TIME,
    },
    Image: imageId,
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: '',
    Name: `/${c.name}`,
    RestartCount: 0,
    Driver: 'forkd-vm',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      NetworkMode: s.networkMode,
      PortBindings: s.portBindings,
      AutoRemove: s.autoRemove,
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      Memory: s.memoryBytes,
      NanoCpus: s.nanoCpus,
      Binds: c.volumes.length > 0 ? c.volumes.map((v) => `${v.name}:${v.path}${v.readOnly ? ':ro' : ''}`) : null,
      Mounts: [],
      LogConfig: { Type: 'json-file', Config: {} },
    },
    GraphDriver: { Name: 'forkd-vm', Data: { VmId: c.vm.id, Host: c.vm.hostId, Boot: c.vm.boot } },
    Mounts: mounts(c),
    Config: {
      Hostname: s.hostname,
      Domainname: '',
      User: '',
      AttachStdin: s.attachStdin,
      AttachStdout: true,
      AttachStderr: true,
      ExposedPorts: s.exposedPorts,
      Tty: s.tty,
      OpenStdin: s.openStdin,
      StdinOnce: s.openStdin,
      Env: env,
      Cmd: s.cmd,
      Image: s.image,
      Volumes: null,
      WorkingDir: '',
      Entrypoint: s.entrypoint,
      OnBuild: null,
      Labels: s.labels,
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      SandboxKey: '',
      Ports: portMap(c, s),
      IPAddress: c.network?.address ?? '',
      IPPrefixLen: c.network ? 24 : 0,
      Gateway: '',
      MacAddress: '',
      Networks: networks(c, s),
    },
  };
}
