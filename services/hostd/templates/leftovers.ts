// What a crashed (or killed) hostd leaves of templates and the warm pool, and
// removing it on start. A warm-pool shell has no identity yet and cannot be
// adopted; a template build domain cannot be resumed. Both are found among
// this host's running domains by name prefix *and* forkd's metadata (kind
// 'pool' / 'tmpl', this host id) and destroyed; other hosts' and foreign
// domains are never touched. Half-made forked VMs (kind 'vm', no vm.json) are
// VmManager.adopt's to destroy.
import { rm } from 'node:fs/promises';
import { MetadataType, type Connection } from '../../../native/libvirt/index.js';
import type { Logger } from '../../contracts/logger.js';
import { libvirtCall } from '../libvirt.js';
import { destroyQuietly } from '../fork/ports.js';
import { FORKD_XMLNS } from '../vm/domain-xml.js';
import { Taps, tapsInDomainXml, type TapPort } from '../network/taps.js';
import { parseDomainMetadata, POOL_DOMAIN_PREFIX } from '../vm/vm-record.js';

export const TEMPLATE_DOMAIN_PREFIX = 'forkd-tmpl-';

const KIND_OF_PREFIX: Array<[string, string]> = [
  [POOL_DOMAIN_PREFIX, 'pool'],
  [TEMPLATE_DOMAIN_PREFIX, 'tmpl'],
];

/** Destroys this host's pool shells and template-build domains and empties the pool directory. Returns the destroyed names. */
export async function removeLeftovers(conn: Connection, hostId: string, poolDir: string, log: Logger, taps: TapPort = Taps.host): Promise<string[]> {
  const destroyed: string[] = [];
  const domains = await libvirtCall('listing domains for template cleanup', () => conn.listAllDomains(0));
  for (const d of domains) {
    const kind = KIND_OF_PREFIX.find(([prefix]) => d.name.startsWith(prefix))?.[1];
    const md = kind ? parseDomainMetadata(await d.getMetadata(MetadataType.ELEMENT, FORKD_XMLNS).catch(() => null)) : null;
    if (!kind || md?.host !== hostId || md.kind !== kind) {
      await d.free().catch(() => undefined);
      continue;
    }
    log.warn(`destroying a ${kind === 'pool' ? 'warm-pool shell' : 'template build'} left by an earlier hostd`, { domain: d.name });
    destroyed.push(d.name);
    // Its tap is named in its XML; whoever made the shell may not have left a marker for it.
    const itsTaps = tapsInDomainXml(await d.getXMLDesc().catch(() => ''));
    await destroyQuietly(d);
    for (const t of itsTaps) await taps.remove(t).catch((e: Error) => log.warn('could not remove a leftover tap', { tap: t, error: e.message }));
  }
  // Shells claimed by a VM were moved to the VM's directory; what is left here has no domain now.
  await rm(poolDir, { recursive: true, force: true });
  return destroyed;
}
