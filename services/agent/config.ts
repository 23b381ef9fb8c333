// The agent's configuration, all from the environment (set by the guest's
// /etc/forkd/agent.sh, or by tests running the agent on the host).

import { join } from 'node:path';

export interface AgentConfig {
  /** State root: layers, images, containers. FORKD_AGENT_ROOT, default /var/lib/forkd. */
  root: string;
  /** Test mode: listen on this unix socket instead of the virtio-serial port. FORKD_AGENT_SOCKET. */
  socketPath: string | null;
  /** Name of the virtio-serial port. FORKD_AGENT_PORT, default org.forkd.agent.0. */
  portName: string;
  /** Where ports are listed. FORKD_AGENT_SYSFS_PORTS, default /sys/class/virtio-ports. */
  sysPorts: string;
  /** Where network interfaces are listed (identity.set's `mac`). FORKD_AGENT_SYSFS_NET, default /sys/class/net. */
  sysNet: string;
  /** Where block devices are listed (volumes are found by serial). FORKD_AGENT_SYSFS_BLOCK, default /sys/block. */
  sysBlock: string;
  /** The OCI runtime binary. FORKD_AGENT_CRUN, default crun. */
  crun: string;
  /** cgroup v2 mount. FORKD_AGENT_CGROUP_ROOT, default /sys/fs/cgroup. */
  cgroupRoot: string;
  /** Files identity.set writes (tests point them elsewhere). FORKD_AGENT_ETC, default /etc. */
  etc: string;
  /** When false, identity.set only writes files (no hostname/ip/date commands). FORKD_AGENT_SYSTEM=0 in tests. */
  system: boolean;
  /** The static launcher of held containers (held.ts). FORKD_AGENT_LAUNCHER, default /opt/forkd/launch. */
  launcher: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  return {
    root: env['FORKD_AGENT_ROOT'] || '/var/lib/forkd',
    socketPath: env['FORKD_AGENT_SOCKET'] || null,
    portName: env['FORKD_AGENT_PORT'] || 'org.forkd.agent.0',
    sysPorts: env['FORKD_AGENT_SYSFS_PORTS'] || '/sys/class/virtio-ports',
    sysNet: env['FORKD_AGENT_SYSFS_NET'] || '/sys/class/net',
    sysBlock: env['FORKD_AGENT_SYSFS_BLOCK'] || '/sys/block',
    crun: env['FORKD_AGENT_CRUN'] || 'crun',
    cgroupRoot: env['FORKD_AGENT_CGROUP_ROOT'] || '/sys/fs/cgroup',
    etc: env['FORKD_AGENT_ETC'] || '/etc',
    system: env['FORKD_AGENT_SYSTEM'] !== '0',
    launcher: env['FORKD_AGENT_LAUNCHER'] || '/opt/forkd/launch',
  };
}

export interface StatePaths {
  layers: string;
  images: string;
  containers: string;
  tmp: string;
}

export function statePaths(root: string): StatePaths {
  return { layers: join(root, 'layers'), images: join(root, 'images'), containers: join(root, 'containers'), tmp: join(root, 'tmp') };
}

export const AGENT_VERSION = 'forkd-agent/0.1.0';
