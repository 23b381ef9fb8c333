// Tenant networks on this host: one network namespace per network, so two
// tenants' networks share nothing (not a bridge, not a routing table, not a
// conntrack table) and may use the same subnet. Inside the namespace:
//
//   guest tap ─┐
//   guest tap ─┴─ br0 (gateway address) ── up0 ══veth══ fkh… (host) ── host uplink
//                                            └ only when the network is not internal
//
// The namespace's own stack answers nothing (input policy drop), forwards out
// only through up0 with NAT, and lets nothing in from up0 that it did not ask
// for. The host end is walled off by the host guard (host-guard.ts). State
// lives in <dataDir>/run/networks/<networkId>.json so a restarted hostd knows
// each namespace's transit link; the namespace itself survives hostd.
//
// Several forkd instances may share a machine: the state file is written
// before the namespace is made (so a crash leaves a record of what to undo),
// a hostd only ever removes namespaces it has a state file for, and transit
// /30s are claimed machine-wide in /run/forkd/transit (O_EXCL files, gone at
// reboot like the namespaces themselves).
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ForkdError } from '../../contracts/errors.js';
import type { NetworkAttachment } from '../../contracts/jobs.js';
import type { Logger } from '../../contracts/logger.js';
import { ip, ipBatch, nft, sysctl } from './commands.js';
import { enableHostForwarding } from './host-guard.js';
import { BRIDGE, netnsName, prefixLength, transitCapacity, transitLink, UPLINK_INNER, uplinkName } from './names.js';
import { linkCalls } from './link-calls.js';

interface NetworkState {
  networkId: string;
  tenantId: string;
  name: string;
  netns: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  /** The /30 of the uplink (null: internal, no uplink). */
  transitIndex: number | null;
  /** false until the namespace is complete: a hostd that finds false after a crash tears it down. */
  ready: boolean;
}

/** Machine-wide claims on transit /30s, shared by every forkd instance on this machine. */
export const TRANSIT_CLAIMS_DIR = '/run/forkd/transit';

/** Claims the lowest free transit index for `networkId` (an O_EXCL file per index). */
export async function claimTransit(networkId: string, dir = TRANSIT_CLAIMS_DIR): Promise<number> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let i = 0; i < transitCapacity(); i++) {
    try {
      const fh = await open(join(dir, String(i)), 'wx', 0o600);
      await fh.writeFile(networkId);
      await fh.close();
      return i;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new ForkdError('ERR_NO_CAPACITY', 'this host has no transit link left for another network with a route out');
}

export async function releaseTransit(index: number, networkId: string, dir = TRANSIT_CLAIMS_DIR): Promise<void> {
  const path = join(dir, String(index));
  // Only our own claim: the index may have been claimed again by someone else after a crash.
  if ((await readFile(path, 'utf8').catch(() => null)) === networkId) await rm(path, { force: true });
}

/** The namespace's own rules: it answers nothing and lets nothing in from outside. */
export function namespaceGuardScript(internal: boolean): string {
  return [
    'table inet forkd_ns {',
    '  chain input {',
    '    type filter hook input priority 0; policy drop;',
    '    iifname "lo" accept',
    '    ct state established,related accept',
    '  }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    `    iifname "${UPLINK_INNER}" ct state established,related accept`,
    `    iifname "${UPLINK_INNER}" drop`,
    '  }',
    '}',
    ...(internal ? [] : [
      'table ip forkd_ns_nat {',
      '  chain postrouting {',
      '    type nat hook postrouting priority 100; policy accept;',
      `    oifname "${UPLINK_INNER}" masquerade`,
      '  }',
      '}',
    ]),
    '',
  ].join('\n');
}

export interface AttachTimings {
  ensureMs: number;
  tapMs: number;
}

export class TenantNetworks {
  private readonly dir: string;
  /** One change at a time per network; transit allocation under 'transit'. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(runDir: string, private readonly log: Logger) {
    this.dir = join(runDir, 'networks');
  }

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(key, next.catch(() => undefined));
    return next;
  }

  private statePath(networkId: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(networkId)) throw new ForkdError('ERR_VALIDATION', `network id ${JSON.stringify(networkId)} is malformed`, { field: 'network' });
    return join(this.dir, `${networkId}.json`);
  }

  private async states(): Promise<NetworkState[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const out: NetworkState[] = [];
    for (const n of names.filter((f) => f.endsWith('.json'))) {
      const s = await readFile(join(this.dir, n), 'utf8').then((t) => JSON.parse(t) as NetworkState, () => null);
      if (s) out.push(s);
    }
    return out;
  }

  private async netnsExists(name: string): Promise<boolean> {
    return existsSync(join('/run/netns', name));
  }

  /** Makes the network's namespace, bridge and (not internal) uplink, once. */
  ensure(att: NetworkAttachment): Promise<void> {
    return this.locked(att.networkId, async () => {
      const path = this.statePath(att.networkId);
      const ns = netnsName(att.networkId);
      if (existsSync(path) && (await this.netnsExists(ns))) {
        const s = JSON.parse(await readFile(path, 'utf8')) as NetworkState;
        if (s.ready && s.subnet === att.subnet && s.gateway === att.gateway && s.internal === att.internal) return;
        this.log.warn('network half-made or changed under the same id: rebuilding its namespace', { network: att.networkId });
      }
      await this.teardown(att.networkId);
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const state: NetworkState = {
        networkId: att.networkId, tenantId: att.tenantId, name: att.name, netns: ns,
        subnet: att.subnet, gateway: att.gateway, internal: att.internal, transitIndex: null, ready: false,
      };
      try {
        if (!att.internal) state.transitIndex = await claimTransit(att.networkId);
        // The intent, before anything exists: a crash from here on is undone by the next start's sweep.
        await writeFile(path, JSON.stringify(state), { mode: 0o600 });
        await ip(['netns', 'add', ns], `creating namespace for network ${att.name}`);
        await ipBatch([
          'link set lo up',
          // No STP: a port forwards the moment it joins (a fork must talk at once).
          `link add ${BRIDGE} type bridge stp_state 0 forward_delay 0`,
          `addr add ${att.gateway}/${prefixLength(att.subnet)} dev ${BRIDGE}`,
          `link set ${BRIDGE} up`,
        ], `setting up the bridge of network ${att.name}`, ns);
        await nft(namespaceGuardScript(att.internal), `firewall of network ${att.name}`, ns);
        if (state.transitIndex !== null) {
          const link = transitLink(state.transitIndex);
          const host = uplinkName(att.networkId);
          await ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', UPLINK_INNER, 'netns', ns], `uplink of network ${att.name}`);
          await ipBatch([`addr add ${link.host}/${link.prefix} dev ${host}`, `link set ${host} up`], `uplink of network ${att.name}`);
          await ipBatch([
            `addr add ${link.inner}/${link.prefix} dev ${UPLINK_INNER}`,
            `link set ${UPLINK_INNER} up`,
            `route add default via ${link.host} dev ${UPLINK_INNER}`,
          ], `uplink of network ${att.name}`, ns);
          await sysctl('net.ipv4.ip_forward', '1', `routing of network ${att.name}`, ns);
          await enableHostForwarding();
        }
        state.ready = true;
        await writeFile(path, JSON.stringify(state), { mode: 0o600 });
        this.log.info('network ready on this host', { network: att.networkId, name: att.name, tenant: att.tenantId, netns: ns, internal: att.internal });
      } catch (err) {
        await this.teardown(att.networkId);
        if (state.transitIndex !== null) await releaseTransit(state.transitIndex, att.networkId);
        throw err;
      }
    });
  }

  /** Puts a VM's tap on the network: into the namespace, onto the bridge, up. */
  async attach(tap: string, att: NetworkAttachment): Promise<AttachTimings> {
    const t0 = Date.now();
    await this.ensure(att);
    const t1 = Date.now();
    const ns = netnsName(att.networkId);
    const calls = linkCalls();
    if (calls) {
      // In-process (link-calls.ts): two `ip` processes were most of a take's join under load.
      try {
        calls.moveToNetns(tap, join('/run/netns', ns));
      } catch (e) {
        throw new ForkdError('ERR_HOST_NETWORK', `moving tap ${tap} into network ${att.name}: ${(e as Error).message}`, { cause: e });
      }
      try {
        calls.enslaveUp(join('/run/netns', ns), tap, BRIDGE);
      } catch (e) {
        throw new ForkdError('ERR_HOST_NETWORK', `attaching tap ${tap} to network ${att.name}: ${(e as Error).message}`, { cause: e });
      }
    } else {
      await ip(['link', 'set', 'dev', tap, 'netns', ns], `moving tap ${tap} into network ${att.name}`);
      await ip(['link', 'set', 'dev', tap, 'master', BRIDGE, 'up'], `attaching tap ${tap} to network ${att.name}`, ns);
    }
    return { ensureMs: t1 - t0, tapMs: Date.now() - t1 };
  }

  /** Removes the network from this host (namespace, bridge, uplink, any tap still in it). Idempotent. */
  remove(networkId: string): Promise<boolean> {
    return this.locked(networkId, async () => {
      const had = existsSync(this.statePath(networkId)) || (await this.netnsExists(netnsName(networkId)));
      await this.teardown(networkId);
      if (had) this.log.info('network removed from this host', { network: networkId });
      return had;
    });
  }

  /** Removes the namespace, its uplink, its transit claim and the state file. Only for networks this hostd has a state file for (or is making). */
  private async teardown(networkId: string): Promise<void> {
    const ns = netnsName(networkId);
    const path = this.statePath(networkId);
    const state = await readFile(path, 'utf8').then((t) => JSON.parse(t) as NetworkState, () => null);
    // Deleting the namespace deletes the bridge, the veth pair and the taps in it.
    if (await this.netnsExists(ns)) await ip(['netns', 'del', ns], `deleting namespace of network ${networkId}`);
    await ip(['link', 'del', 'dev', uplinkName(networkId)], 'deleting an uplink').catch(() => undefined); // usually gone with its peer
    if (state?.transitIndex !== null && state?.transitIndex !== undefined) await releaseTransit(state.transitIndex, networkId);
    await rm(path, { force: true });
  }

  /** After a restart: this hostd's networks that were half-made when it stopped are torn down. Other instances' are never touched. */
  async sweep(): Promise<string[]> {
    const removed: string[] = [];
    for (const s of await this.states()) {
      if (s.ready) continue;
      await this.teardown(s.networkId).catch((e: Error) => this.log.warn('could not remove a half-made network', { network: s.networkId, error: e.message }));
      removed.push(s.netns);
    }
    return removed;
  }
}
