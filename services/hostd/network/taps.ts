// Guest taps. Every VM forkd starts (cold boot, template build, clone, pool
// shell) gets a tap hostd made itself, handed to libvirt with managed='no'.
// It is created down and attached to nothing, in the host's namespace: a
// guest whose NIC is not on a network sends into a link that is down, so its
// frames are dropped by the kernel before any stack sees them. Attaching
// (network/tenant-networks.ts) moves the tap into a network's namespace; QEMU
// keeps its file descriptor across the move.
import { ip } from './commands.js';
import { NETNS_PREFIX, TAP_PREFIX } from './names.js';

export interface TapPort {
  create(name: string): Promise<void>;
  remove(name: string): Promise<void>;
}

async function namespaces(): Promise<string[]> {
  const out = await ip(['-j', 'netns', 'list'], 'listing network namespaces').catch(() => '[]');
  return ((JSON.parse(out || '[]') as Array<{ name: string }>) ?? []).map((n) => n.name).filter((n) => n.startsWith(NETNS_PREFIX));
}

async function linksIn(netns?: string): Promise<string[]> {
  const out = await ip(['-j', 'link', 'show'], 'listing links', netns).catch(() => '[]');
  return ((JSON.parse(out || '[]') as Array<{ ifname: string }>) ?? []).map((l) => l.ifname);
}

export class Taps implements TapPort {
  /** The one set of taps this host has; ports default to it. */
  static readonly host = new Taps();

  /** Creates the tap, down and detached. An existing one of that name (a retry, a crash) is replaced. */
  async create(name: string): Promise<void> {
    if (!name.startsWith(TAP_PREFIX)) throw new Error(`tap ${name} lacks forkd's prefix`);
    await this.remove(name);
    await ip(['tuntap', 'add', 'dev', name, 'mode', 'tap'], `creating tap ${name}`);
  }

  /** Deletes the tap wherever it is (host or a network namespace). Idempotent. */
  async remove(name: string): Promise<void> {
    for (const ns of [undefined, ...(await namespaces())]) {
      if ((await linksIn(ns)).includes(name)) {
        await ip(['link', 'del', 'dev', name], `deleting tap ${name}`, ns).catch(() => undefined); // gone meanwhile: what we wanted
        return;
      }
    }
  }

  /** forkd's taps everywhere: name → namespace (undefined: the host's). */
  async list(): Promise<Map<string, string | undefined>> {
    const found = new Map<string, string | undefined>();
    for (const ns of [undefined, ...(await namespaces())]) {
      for (const l of await linksIn(ns)) if (l.startsWith(TAP_PREFIX)) found.set(l, ns);
    }
    return found;
  }

  /** Deletes every forkd tap not in `keep` (after a restart: taps of VMs that are gone). */
  async sweep(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const [name, ns] of await this.list()) {
      if (keep.has(name)) continue;
      await ip(['link', 'del', 'dev', name], `deleting leftover tap ${name}`, ns).catch(() => undefined); // raced with its own clean-up
      removed.push(name);
    }
    return removed;
  }
}
