// The OCI runtime config.json of a container. Pure: everything it needs comes
// in as arguments, so it is unit-tested on the host. The VM is the isolation
// boundary, so the container shares the VM's network namespace and gets its own
// pid, mount, ipc, uts and cgroup namespaces.

import type { ImageConfig, Limits } from '../contracts/agent-protocol/index.js';

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface SpecInput {
  args: string[];
  env: string[];
  cwd: string;
  user: OciUser;
  hostname: string;
  rootfs: string;
  cgroupsPath: string;
  limits: Limits | undefined;
  /** Files bind-mounted read-only over the container's /etc/{hosts,hostname,resolv.conf}. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** Guest directories (mounted volumes) bound into the container; read-only ones with `ro`. */
  volumes?: ReadonlyArray<{ source: string; destination: string; readOnly: boolean }>;
  /** A terminal for the process (crun makes it and hands it over its console socket). */
  terminal?: TerminalSpec | undefined;
}

/** The OCI mounts of a container's volumes: bind mounts, after the defaults so a volume may sit under /etc or /dev. */
export function volumeMounts(volumes: SpecInput['volumes']): Array<Record<string, unknown>> {
  return (volumes ?? []).map((v) => ({
    destination: v.destination,
    type: 'bind',
    source: v.source,
    options: ['rbind', 'nosuid', 'nodev', v.readOnly ? 'ro' : 'rw'],
  }));
}

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default capability set. No NET_ADMIN: the network namespace is the VM's own. */
export const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Docker's rules: a command override drops the image's Cmd unless args are given too. */
export function resolveArgs(config: ImageConfig, command: string[] | undefined, args: string[] | undefined): string[] {
  const entry = command ?? config.Entrypoint ?? [];
  const cmd = args ?? (command !== undefined ? [] : (config.Cmd ?? []));
  return [...entry, ...cmd];
}

/** The image's Env overridden key by key, PATH and HOSTNAME defaulted. */
export function mergeEnv(imageEnv: readonly string[] | undefined, overrides: readonly string[] | undefined, hostname: string): string[] {
  const map = new Map<string, string>();
  for (const e of [...(imageEnv ?? []), ...(overrides ?? [])]) {
    const eq = e.indexOf('=');
    if (eq > 0) map.set(e.slice(0, eq), e);
  }
  if (!map.has('PATH')) map.set('PATH', DEFAULT_PATH);
  if (!map.has('HOSTNAME')) map.set('HOSTNAME', `HOSTNAME=${hostname}`);
  return [...map.values()];
}

/** A terminal's process gets TERM=xterm unless it has a TERM (as Docker does). */
export function withTerm(env: string[]): string[] {
  return env.some((e) => e.startsWith('TERM=')) ? env : [...env, 'TERM=xterm'];
}

/**
 * Resolves a Docker-style user ("", "uid", "uid:gid", "name", "name:group")
 * against the image's /etc/passwd and /etc/group. Null when a name is unknown.
 */
export function resolveUser(spec: string | undefined, passwd: string, group: string): OciUser | null {
  const s = (spec ?? '').trim();
  if (s === '') return { uid: 0, gid: 0 };
  const [u, g] = s.split(':', 2) as [string, string | undefined];
  const users = passwd.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 4);
  const groups = group.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 3);
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    gid = Number(users.find((f) => f[2] === u)?.[3] ?? 0);
  } else {
    const entry = users.find((f) => f[0] === u);
    if (!entry) return null;
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const ge = groups.find((f) => f[0] === g);
      if (!ge) return null;
      gid = Number(ge[2]);
    }
  }
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) return null;
  const name = users.find((f) => Number(f[2]) === uid)?.[0];
  const extra = name === undefined ? [] : groups.filter((f) => (f[3] ?? '').split(',').includes(name)).map((f) => Number(f[2])).filter((n) => n !== gid);
  return extra.length > 0 ? { uid, gid, additionalGids: extra } : { uid, gid };
}

/** cgroup v2 files for the limits (linux.resources.unified). */
export function unifiedResources(limits: Limits | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (limits?.memoryMib !== undefined) out['memory.max'] = String(limits.memoryMib * 1024 * 1024);
  if (limits?.cpus !== undefined) out['cpu.max'] = `${Math.max(1000, Math.round(limits.cpus * 100_000))} 100000`;
  if (limits?.pids !== undefined) out['pids.max'] = String(limits.pids);
  return out;
}

export interface TerminalSpec {
  rows?: number | undefined;
  cols?: number | undefined;
}

export function processSpec(i: { args: string[]; env: string[]; cwd: string; user: OciUser; terminal?: TerminalSpec | undefined }): Record<string, unknown> {
  const t = i.terminal;
  return {
    terminal: t !== undefined,
    ...(t ? { consoleSize: { height: t.rows ?? 24, width: t.cols ?? 80 } } : {}),
    user: i.user,
    args: i.args,
    env: i.env,
    cwd: i.cwd,
    capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }],
    noNewPrivileges: true,
    // The agent runs at -1000 (protect.ts) and children inherit it: a container's processes are OOM-killable as usual.
    oomScoreAdj: 0,
  };
}

export function ociSpec(i: SpecInput): Record<string, unknown> {
  return {
    ociVersion: '1.0.2',
    process: processSpec(i),
    root: { path: i.rootfs, readonly: false },
    hostname: i.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      { destination: '/etc/hosts', type: 'bind', source: i.etcFiles.hosts, options: ['rbind', 'ro'] },
      { destination: '/etc/hostname', type: 'bind', source: i.etcFiles.hostname, options: ['rbind', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: i.etcFiles.resolvConf, options: ['rbind', 'ro'] },
      ...volumeMounts(i.volumes),
    ],
    linux: {
      // No network namespace: containers use the VM's network, the VM is the boundary.
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'cgroup' }],
      cgroupsPath: i.cgroupsPath,
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        unified: unifiedResources(i.limits),
      },
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
