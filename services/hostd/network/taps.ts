// Guest taps. Every VM forkd starts (cold boot, template build, clone, pool
// shell) gets a tap hostd made itself, handed to libvirt with managed='no'.
// It is created down and attached to nothing, in the host's namespace: a
// guest whose NIC is not on a network sends into a link that is down, so its
// frames are dropped by the kernel before any stack sees them. Attaching
// (network/tenant-networks.ts) moves the tap into a network's namespace; QEMU
// keeps its file descriptor across the move.
//
// Several forkd instances may share a machine (a test run beside a dev
// server, the benchmark): a hostd keeps a marker file per tap it made, and
// its clean-up only ever touches taps it has a marker for.
import { mkdirSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ip } from './commands.js';
import { NETNS_PREFIX, TAP_PREFIX } from './names.js';

export interface TapPort {
  create(name: string): Promise<void>;
  /** `netns`: where the tap is expected (a network's namespace; absent: the host's). */
  remove(name: string, netns?: string): Promise<void>;
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
  /** Taps made without a hostd to own them (tests, the benchmark): no markers, never swept; their makers remove them. */
  static readonly host = new Taps();

  /** `markerDir`: where this hostd records the taps it made (its sweep considers only those). */
  constructor(private readonly markerDir?: string) {
    if (markerDir) mkdirSync(markerDir, { recursive: true, mode: 0o700 });
  }

  /** Creates the tap, down and detached. An existing one of that name (a retry, a crash) is replaced. */
  async create(name: string): Promise<void> {
    if (!name.startsWith(TAP_PREFIX)) throw new Error(`tap ${name} lacks forkd's prefix`);
    // Marker first: a crash between the two leaves a marker for a missing tap, which the sweep shrugs off.
    if (this.markerDir) await writeFile(join(this.markerDir, name), '');
    // One process on a fork's path; only a name already taken (a retry, a crash) pays for finding and removing the old one.
    try {
      await ip(['tuntap', 'add', 'dev', name, 'mode', 'tap'], `creating tap ${name}`);
    } catch {
      await this.remove(name);
      if (this.markerDir) await writeFile(join(this.markerDir, name), '');
      await ip(['tuntap', 'add', 'dev', name, 'mode', 'tap'], `creating tap ${name}`);
    }
  }

  /** Deletes the tap where it is expected (one process), else wherever it is (host or a network namespace). Idempotent. */
  async remove(name: string, netns?: string): Promise<void> {
    const gone = await ip(['link', 'del', 'dev', name], `deleting tap ${name}`, netns).then(() => true, () => false);
    for (const ns of gone ? [] : [undefined, ...(await namespaces())]) {
      if ((await linksIn(ns)).includes(name)) {
        await ip(['link', 'del', 'dev', name], `deleting tap ${name}`, ns).catch(() => undefined); // gone meanwhile: what we wanted
        break;
      }
    }
    if (this.markerDir) await rm(join(this.markerDir, name), { force: true });
  }

  /** forkd's taps everywhere: name → namespace (undefined: the host's). */
  async list(): Promise<Map<string, string | undefined>> {
    const found = new Map<string, string | undefined>();
    for (const ns of [undefined, ...(await namespaces())]) {
      for (const l of await linksIn(ns)) if (l.startsWith(TAP_PREFIX)) found.set(l, ns);
    }
    return found;
  }

  /** Deletes every tap this hostd made that is not in `keep` (after a restart: taps of VMs that are gone). Never another instance's. */
  async sweep(keep: ReadonlySet<string>): Promise<string[]> {
    if (!this.markerDir) return [];
    const mine = (await readdir(this.markerDir).catch(() => [] as string[])).filter((n) => n.startsWith(TAP_PREFIX) && !keep.has(n));
    if (mine.length === 0) return [];
    const where = await this.list();
    const removed: string[] = [];
    for (const name of mine) {
      if (where.has(name)) {
        await ip(['link', 'del', 'dev', name], `deleting leftover tap ${name}`, where.get(name)).catch(() => undefined); // raced with its own clean-up
        removed.push(name);
      }
      await rm(join(this.markerDir, name), { force: true });
    }
    return removed;
  }
}

/**
 * The forkd taps a domain's XML names (`<target dev='fkt…'/>`). For destroying
 * a domain whose record is gone (a half-made VM, a shell left by another
 * process): the domain itself still says which tap was its.
 */
export function tapsInDomainXml(xml: string): string[] {
  const found = new Set<string>();
  for (const m of xml.matchAll(/<target\s+dev=['"](fkt[0-9a-f]{12})['"]/g)) found.add(m[1]!);
  return [...found];
}
