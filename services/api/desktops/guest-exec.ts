// A short command in a desktop's container, run by the API itself (the
// password rotation, the session check): the same container.exec job and
// stream lease as `forkd exec`, its output collected.
import type { Redis } from 'ioredis';
import { ForkdError } from '../../contracts/errors.js';
import type { Containers } from '../containers.js';
import type { HostJobs } from '../host-jobs.js';
import { openRelay } from '../io-relay.js';
import type { StreamLimiter } from '../streams/stream-limiter.js';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface GuestExecDeps {
  containers: Containers;
  hostJobs: HostJobs;
  redis: Redis;
  streams: StreamLimiter;
}

export type GuestExec = (tenantId: string, containerId: string, command: string[], env?: string[]) => Promise<ExecResult>;

export function guestExec(deps: GuestExecDeps): GuestExec {
  return async (tenantId, containerId, command, env) => {
    const row = await deps.containers.row(tenantId, containerId);
    const lease = await deps.streams.acquire(row.tenantId, row.vm.hostId);
    const relay = openRelay(deps.redis, (session) => deps.hostJobs.call(row.vm.hostId, 'container.exec', {
      vmId: row.vmId, containerId: row.id, session, command, stdin: false,
      // Sealed like any exec's env: the password never sits in Redis in the clear.
      ...(env ? { env: deps.containers.sealEnv(row.id, env) } : {}),
    }, { timeoutMs: 120_000 }), lease);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let exitCode: number | undefined;
    try {
      for await (const f of relay.frames) {
        if (f.kind === 'stdout') out.push(f.data);
        else if (f.kind === 'stderr') err.push(f.data);
        else if (f.kind === 'exit') exitCode = Number(f.data.toString());
        else if (f.kind === 'error') {
          const body = JSON.parse(f.data.toString()) as { error?: { code?: string; message?: string } };
          throw new ForkdError('ERR_GUEST', `exec in desktop container failed: ${body.error?.message ?? f.data.toString()}`);
        }
      }
    } finally {
      await relay.close();
    }
    return { exitCode: exitCode ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  };
}
