// Everything one forkd data directory owns on this host's network: its
// networks (state files in <runDir>/networks) and its taps (markers in
// <runDir>/taps). For throwing a data directory away (tests, `rm -rf var`):
// VMs outlive hostd, and so do their networks, so nothing else removes them.
// Only what this data directory made is touched; by id, never by prefix.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../contracts/logger.js';
import { Taps } from './taps.js';
import { TenantNetworks } from './tenant-networks.js';

export async function releaseDataDirNetworking(runDir: string, log: Logger): Promise<{ networks: string[]; taps: string[] }> {
  const nets = new TenantNetworks(runDir, log);
  const networks = (await readdir(join(runDir, 'networks')).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  for (const id of networks) await nets.remove(id);
  const taps = await new Taps(join(runDir, 'taps')).sweep(new Set());
  return { networks, taps };
}
