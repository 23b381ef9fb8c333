// network.hosts: the names of this VM's peers on its tenant network. The guest
// has no resolver daemon; like Docker's legacy links, names live in hosts
// files. Each container's /etc/hosts is a read-only bind mount of a file in
// its directory, so the file is rewritten in place (same inode), never
// replaced, or the container would keep seeing the old one.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Params } from '../contracts/agent-protocol/index.js';

export type PeerEntries = Params<'network.hosts'>['entries'];

/** The lines appended to every hosts file for these peers. */
export function peerLines(entries: PeerEntries): string {
  return entries.filter((e) => e.names.length > 0).map((e) => `${e.address}\t${e.names.join(' ')}\n`).join('');
}

/** Truncates and rewrites `path` in place, keeping its inode (bind mounts follow the inode). */
export async function rewriteInPlace(path: string, text: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(0);
    await fh.write(text, 0);
  } finally {
    await fh.close();
  }
}

export class PeerHosts {
  private lines = '';

  /** What to append to a hosts file now. */
  get current(): string {
    return this.lines;
  }

  set(entries: PeerEntries): void {
    this.lines = peerLines(entries);
  }
}

/** The guest's own /etc/hosts path. */
export function guestHostsPath(etc: string): string {
  return join(etc, 'hosts');
}
