// identity.set: what makes a clone a different machine from its template and
// its siblings (hostname, address, clock, machine-id, RNG state). Applied in
// one call right after a fork resumes; every item is optional. The MAC is set
// before `network`, whose routes a link going down would drop.
//
// One round trip and, without `network`, no process: the clock
// (settimeofday), the MAC (SIOCSIFHWADDR) and the entropy (RNDADDENTROPY, which
// mixes *and* credits) go through libc in-process (sys-calls.ts), the hostname
// is written to /proc/sys/kernel/hostname. A guest without koffi falls back to
// busybox processes (`date`, `ip`) and to writing /dev/urandom (mixed, not
// credited: a warning says so). The kernel also reseeds on its own when the
// VMGenID changes (hostd gives every clone a new one). `network` (address,
// netmask, link up, default route) is in-process too (SIOCSIFADDR,
// SIOCSIFNETMASK, SIOCADDRT); without koffi it is one `sh -c` of `ip`.

import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, type Params } from '../contracts/agent-protocol/index.js';
import type { AgentConfig } from './config.js';
import type { HandlerTable } from './handler.js';
import { currentMac, findNic, macCommands } from './nic.js';
import { runOk } from './run.js';
import { sysCalls } from './sys-calls.js';
import type { Containers } from './containers.js';

const PROC_HOSTNAME = '/proc/sys/kernel/hostname';

type Network = NonNullable<Params<'identity.set'>['network']>;

export function hostsFile(hostname: string): string {
  return `127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`;
}

export function resolvConf(dns: readonly string[]): string {
  return `# written by the forkd agent\n${dns.map((d) => `nameserver ${d}\n`).join('')}`;
}

/**
 * The `ip` invocations (busybox applet) that configure one interface.
 * `known.unaddressed`: the agent never gave this interface an address (a VM's
 * first join; templates are on no network), so there is nothing to flush.
 * `known.up`: the link is up already (identity.set's MAC step leaves it up).
 * Under TCG each process costs tens of milliseconds on a pool take's path.
 */
export function networkCommands(n: Network, known: { unaddressed?: boolean; up?: boolean } = {}): string[][] {
  const cmds: string[][] = known.unaddressed ? [] : [['ip', 'addr', 'flush', 'dev', n.interface]];
  if (n.mtu !== undefined) cmds.push(['ip', 'link', 'set', 'dev', n.interface, 'mtu', String(n.mtu)]);
  if (!known.up || n.mtu !== undefined) cmds.push(['ip', 'link', 'set', 'dev', n.interface, 'up']);
  cmds.push(['ip', 'addr', 'add', n.address, 'dev', n.interface]);
  if (n.gateway !== undefined) cmds.push(['ip', 'route', 'replace', 'default', 'via', n.gateway, 'dev', n.interface]);
  return cmds;
}

/**
 * The same commands as one shell script: under TCG every process the agent
 * spawns costs tens of milliseconds, and a pool take waits for this one.
 * Every word is single-quoted; the values were validated before.
 */
export function networkScript(n: Network, known: { unaddressed?: boolean; up?: boolean } = {}): string {
  const q = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;
  return networkCommands(n, known).map((c) => c.map(q).join(' ')).join(' && ');
}

/** Interfaces this agent process has given an address. A template's agent never has (templates are on no network), so a clone's first join starts empty. */
const addressed = new Set<string>();

/** IFF_UP from /sys/class/net/<nic>/flags, without running anything. */
async function linkIsUp(sysNet: string, nic: string): Promise<boolean> {
  const flags = await readFile(join(sysNet, nic, 'flags'), 'utf8').catch(() => '0x0');
  return (Number.parseInt(flags.trim(), 16) & 0x1) === 1;
}

export function validIPv4Cidr(cidr: string): boolean {
  const [addr, prefix] = cidr.split('/');
  return validIPv4(addr ?? '') && Number(prefix) >= 0 && Number(prefix) <= 32;
}

export function validIPv4(addr: string): boolean {
  const parts = addr.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/**
 * busybox date sets whole seconds only. To land within a few ms of the host's
 * clock, wait for the next whole second of host time, then set it. identity.set
 * does not wait for that (a pool take must stay fast): it sets the nearest
 * whole second at once (off by at most 500 ms) and the exact one in the
 * background, within a second.
 */
export function clockPlan(hostEpochMs: number, elapsedMs: number): { waitMs: number; setSeconds: number } {
  const nowHost = hostEpochMs + elapsedMs;
  const waitMs = (1000 - (nowHost % 1000)) % 1000;
  return { waitMs, setSeconds: Math.round((nowHost + waitMs) / 1000) };
}

/** What identity.set needs of the containers: those named after the VM follow its new hostname, and all take the peers' names (`hosts`). */
export type HostnameFollowers = Pick<Containers, 'followHostname' | 'updatePeers' | 'peers'>;

export function identityHandlers(cfg: AgentConfig, containers?: HostnameFollowers): HandlerTable {
  // Bound now, at agent start: a template's agent has libc bound before the snapshot, so its clones do not pay for it on a take.
  if (cfg.system) sysCalls();
  return {
    'identity.set': async (p) => {
      const received = performance.now();
      const applied: string[] = [];
      const warnings: string[] = [];
      if (p.clockEpochMs !== undefined) {
        const plan = clockPlan(p.clockEpochMs, performance.now() - received);
        const sys = cfg.system ? sysCalls() : null;
        if (sys) {
          try {
            sys.setClock(p.clockEpochMs + performance.now() - received);
          } catch (e) {
            throw new AgentError('ERR_IO', `setting the clock: ${(e as Error).message}`);
          }
        } else if (cfg.system) {
          const nearest = Math.round((p.clockEpochMs + performance.now() - received) / 1000);
          await runOk('date', ['-u', '-s', `@${nearest}`]).catch((e: Error) => {
            throw new AgentError('ERR_IO', `setting the clock: ${e.message}`);
          });
          const exactAt = received + plan.waitMs;
          setTimeout(() => void runOk('date', ['-u', '-s', `@${plan.setSeconds}`]).catch(() => {}), Math.max(0, exactAt - performance.now()));
        }
        applied.push('clock');
      }
      if (p.machineId !== undefined) {
        await writeFile(join(cfg.etc, 'machine-id'), `${p.machineId}\n`, { mode: 0o444 });
        applied.push('machineId');
      }
      // The peers first, so the hosts file below is written once, with them (as network.hosts would).
      if (p.hosts !== undefined && containers) {
        await containers.updatePeers(p.hosts);
        applied.push('hosts');
      }
      const peerLines = containers?.peers.current ?? '';
      if (p.hostname !== undefined) {
        const before = await currentHostname(cfg);
        await writeFile(join(cfg.etc, 'hostname'), `${p.hostname}\n`);
        await writeFile(join(cfg.etc, 'hosts'), hostsFile(p.hostname) + peerLines);
        if (cfg.system) await writeFile(PROC_HOSTNAME, p.hostname);
        applied.push('hostname');
        // A running container forked with its VM (a desktop, a live fork, an
        // app template's) still answers to the template's name in its own UTS
        // namespace: it follows the VM's new one (docs/clone-hazards.md).
        if (containers && before !== null) {
          const followed = await containers.followHostname(before, p.hostname, cfg.system ? setContainerHostname : null);
          if (followed.renamed.length > 0) applied.push('containerHostname');
          warnings.push(...followed.warnings);
        }
      } else if (p.hosts !== undefined && containers) {
        const hostname = (await currentHostname(cfg)) ?? 'localhost';
        await writeFile(join(cfg.etc, 'hosts'), hostsFile(hostname) + peerLines);
      }
      if (p.mac !== undefined) {
        const nic = await findNic(cfg.sysNet, p.network?.interface);
        if (nic === null) {
          warnings.push(`mac: the guest has no network interface${p.network ? ` ${p.network.interface}` : ''}; ${p.mac} not set`);
        } else {
          if (cfg.system) await setMac(cfg.sysNet, nic, p.mac);
          else warnings.push(`mac: FORKD_AGENT_SYSTEM=0, ${nic} left as it is`);
          applied.push('mac');
        }
      }
      if (p.network !== undefined) {
        const n = p.network;
        if (!validIPv4Cidr(n.address)) throw new AgentError('ERR_INVALID_PARAMS', `network.address ${n.address} is not an IPv4 CIDR`, { field: 'network.address' });
        if (n.gateway !== undefined && !validIPv4(n.gateway)) throw new AgentError('ERR_INVALID_PARAMS', `network.gateway ${n.gateway} is not IPv4`, { field: 'network.gateway' });
        if (cfg.system) {
          const sys = sysCalls();
          if (sys) {
            // In-process (no `sh`, no `ip`): under TCG those processes were most of a pool take's network step.
            const [address, prefix] = n.address.split('/') as [string, string];
            try {
              sys.configureIpv4(n.interface, { address, prefix: Number(prefix), ...(n.gateway === undefined ? {} : { gateway: n.gateway }), ...(n.mtu === undefined ? {} : { mtu: n.mtu }) });
            } catch (e) {
              throw new AgentError('ERR_IO', `network: ${(e as Error).message}`);
            }
          } else {
            const known = { unaddressed: !addressed.has(n.interface), up: await linkIsUp(cfg.sysNet, n.interface) };
            await runOk('sh', ['-c', networkScript(n, known)]).catch((e: Error) => {
              throw new AgentError('ERR_IO', `network: ${e.message}`);
            });
          }
          addressed.add(n.interface);
        }
        if (n.dns !== undefined) await writeFile(join(cfg.etc, 'resolv.conf'), resolvConf(n.dns));
        applied.push('network');
      }
      if (p.entropy !== undefined) {
        const bytes = Buffer.from(p.entropy, 'base64');
        const credited = cfg.system && creditEntropy(bytes);
        if (cfg.system && !credited) {
          const fh = await open('/dev/urandom', 'w');
          try {
            await fh.write(bytes);
          } finally {
            await fh.close();
          }
          warnings.push(`entropy: ${bytes.length} bytes mixed into /dev/urandom but not credited (RNDADDENTROPY needs koffi, missing or refused here)`);
        }
        if (!cfg.system) warnings.push(`entropy: ${bytes.length} bytes not mixed in and not credited (FORKD_AGENT_SYSTEM=0)`);
        applied.push('entropy');
      }
      return { applied, warnings };
    },
  };
}

/** RNDADDENTROPY in-process; false when the guest cannot (no koffi, or the kernel refused): the caller writes /dev/urandom instead. */
function creditEntropy(bytes: Buffer): boolean {
  const sys = sysCalls();
  if (!sys) return false;
  try {
    sys.addEntropy(bytes);
    return true;
  } catch {
    return false;
  }
}

async function setMac(sysNet: string, nic: string, mac: string): Promise<void> {
  const sys = sysCalls();
  if (sys) {
    if ((await currentMac(sysNet, nic)) === mac) return;
    try {
      sys.setMac(nic, mac);
      return;
    } catch (e) {
      throw new AgentError('ERR_IO', `mac: ${(e as Error).message}`, { interface: nic });
    }
  }
  try {
    for (const cmd of macCommands(nic, mac, await currentMac(sysNet, nic))) await runOk(cmd[0]!, cmd.slice(1));
  } catch (e) {
    // Leave the link up if it went down before the failure.
    await runOk('ip', ['link', 'set', 'dev', nic, 'up']).catch(() => undefined);
    throw new AgentError('ERR_IO', `mac: ${(e as Error).message}`, { interface: nic });
  }
}

/** The VM's hostname before identity.set changes it (null: none known). */
async function currentHostname(cfg: AgentConfig): Promise<string | null> {
  const from = cfg.system ? PROC_HOSTNAME : join(cfg.etc, 'hostname');
  return (await readFile(from, 'utf8').catch(() => '')).trim() || null;
}

/** sethostname in a container's UTS namespace: in-process through koffi (sys-calls.ts), else busybox nsenter (a process, slower under TCG). */
async function setContainerHostname(pid: number, hostname: string): Promise<void> {
  const sys = sysCalls();
  if (sys) return sys.setUtsHostname(pid, hostname);
  await runOk('nsenter', ['-u', '-t', String(pid), 'hostname', hostname]);
}

/** The machine-id the guest has now (for tests and info). */
export async function readMachineId(cfg: AgentConfig): Promise<string | null> {
  return (await readFile(join(cfg.etc, 'machine-id'), 'utf8').catch(() => '')).trim() || null;
}
