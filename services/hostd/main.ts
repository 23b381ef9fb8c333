// Starts hostd for this host: libvirt, the accelerator verdict, the job worker.
import { mkdir } from 'node:fs/promises';
import type { Connection } from '../../native/libvirt/index.js';
import type { ForkdConfig } from '../contracts/config.js';
import { CleanupStack } from '../contracts/cleanup-stack.js';
import type { Logger } from '../contracts/logger.js';
import { connectRedis } from '../contracts/redis.js';
import { detectAccel, type AccelVerdict } from './accel.js';
import { hostInfoHandler } from './handlers/host-info.js';
import type { JobHandlers } from './job-handlers.js';
import { libvirtCall, openLibvirt } from './libvirt.js';
import { HostWorker } from './worker.js';

export interface RunningHostd {
  accel: AccelVerdict;
  conn: Connection;
  stop(): Promise<void>;
}

export async function startHostd(config: ForkdConfig, redisUrl: string, log: Logger): Promise<RunningHostd> {
  const cleanup = new CleanupStack();
  try {
    await mkdir(config.dataDir, { recursive: true });
    const conn = await openLibvirt(config.libvirtUri);
    cleanup.push('libvirt connection', () => conn.close());
    const [lib, hyp] = await libvirtCall('reading versions', () => Promise.all([conn.getLibVersion(), conn.getVersion()]));
    const libvirtVersion = lib.string;
    const qemuVersion = hyp.string;
    const accel = await detectAccel({ conn, config, log, qemuVersion });
    log.info(`accelerator: ${accel.accel} (${accel.reason})`, { accel: accel.accel, libvirtVersion, qemuVersion });

    const handlers: JobHandlers = {
      'host.info': hostInfoHandler({ conn, hostId: config.hostId, accel, libvirtVersion, qemuVersion }),
    };
    const redis = await connectRedis(redisUrl);
    cleanup.push('redis', () => redis.quit());
    const worker = new HostWorker({ hostId: config.hostId, accel: accel.accel, redis, handlers, log });
    await worker.start();
    cleanup.push('worker', () => worker.stop());
    return { accel, conn, stop: async () => { await cleanup.run(); } };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}
