// hostd's BlobCache as configured: under its data directory, fetching from the
// API at FORKD_URL with this host's credential, bounded by FORKD_BLOB_CACHE_MIB.
import { join } from 'node:path';
import { ImageStore } from '../../../images/containers/image-store.js';
import type { ForkdConfig } from '../../contracts/config.js';
import { hostAuthorization } from '../../contracts/host-credential.js';
import type { Logger } from '../../contracts/logger.js';
import type { TemplateRegistry } from '../templates/template-registry.js';
import type { VmManager } from '../vm/vm-manager.js';
import { BlobCache } from './blob-cache.js';

/** A stalled API must not hold a create forever: a fetch not done in this long fails (a layer of hundreds of MiB over a LAN takes seconds). */
const FETCH_TIMEOUT_MS = 600_000;

export function hostBlobCache(config: ForkdConfig, secretKey: Buffer, vms: VmManager, templates: () => TemplateRegistry | undefined, log: Logger): BlobCache {
  const authorization = hostAuthorization(secretKey, config.hostId);
  return new BlobCache({
    dir: join(config.dataDir, 'blobs'),
    localLayers: join(new ImageStore(config.dataDir).root, 'layers', 'sha256'),
    limitBytes: config.blobCacheBytes,
    fetchBlob: (digest) => fetch(`${config.apiUrl}/internal/blobs/${digest}`, { headers: { authorization }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) }),
    liveUsers: async () => new Set([...(await vms.list()).map((v) => v.vmId), ...(templates()?.ids() ?? [])]),
    log,
  });
}
