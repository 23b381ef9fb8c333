// Desktops wired from the API's services (server.ts registers the routes and
// starts the idle sweep).
import { loadSecretKey } from '../../contracts/secrets/index.js';
import { dataPaths } from '../../contracts/config.js';
import { liveForkServices } from '../fork/services.js';
import type { ApiServices } from '../services.js';
import { DesktopTemplates } from './desktop-templates.js';
import { Desktops } from './desktops.js';
import { guestExec } from './guest-exec.js';
import { guestPort } from './guest-port.js';
import { DesktopIdle } from './idle.js';
import { BridgeRegistry, CLOSE_REMOVED } from './vnc-bridge.js';

export interface DesktopServices {
  desktops: Desktops;
  bridges: BridgeRegistry;
  idle: DesktopIdle;
}

export async function desktopServices(s: ApiServices, log: { warn(msg: string, fields?: Record<string, unknown>): void }): Promise<DesktopServices> {
  const { config } = s;
  const secretKey = await loadSecretKey({ keyFile: dataPaths(config.dataDir).secretKey, configured: config.secretKey });
  const exec = guestExec({ containers: s.containers, hostJobs: s.hostJobs, redis: s.redis, streams: s.streams });
  const port = guestPort({ containers: s.containers, hostJobs: s.hostJobs, redis: s.redis, streams: s.streams });
  const { forks, snapshots } = liveForkServices(s);
  const templates = new DesktopTemplates({ db: s.db, containers: s.containers, snapshots, operations: s.operations, exec, memoryMib: config.desktop.memoryMib, log });
  const desktops = new Desktops({
    db: s.db, images: s.images, containers: s.containers, forks, templates, operations: s.operations, exec, port, secretKey, log,
    settings: { tokenTtlSec: config.desktop.tokenTtlSec, memoryMib: config.desktop.memoryMib, poolSize: config.desktop.poolSize },
  });
  const bridges = new BridgeRegistry();
  desktops.onRemoved = (id) => bridges.closeAll(id, CLOSE_REMOVED, 'desktop removed');
  const idle = new DesktopIdle({ db: s.db, bridges, remove: (tenantId, id) => desktops.remove(tenantId, id), events: s.events, log }, { idleSec: config.desktop.idleSec, warnSec: config.desktop.idleWarnSec });
  return { desktops, bridges, idle };
}
