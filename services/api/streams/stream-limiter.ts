// Caps concurrent streams (logs, exec) per tenant and per host. Each stream
// holds a lease (lease-store.ts) from before its hostd job is enqueued until
// the stream ends; the lease is renewed while the stream lives and expires by
// itself if this process dies, so counts cannot leak.
import { randomBytes } from 'node:crypto';
import { ForkdError } from '../../contracts/errors.js';
import { leaseKeys, type LeaseLimits, type LeaseStore } from './lease-store.js';

export interface StreamLimiterOptions extends LeaseLimits {
  /** A lease not renewed for this long is gone (the API crashed or lost Redis). */
  leaseMs?: number;
  /** How often a live stream renews its lease; well under leaseMs. */
  renewMs?: number;
  /** Where a failed renewal is reported (the stream goes on: it is alive). */
  onRenewError?: (err: unknown) => void;
}

export interface StreamLease {
  readonly id: string;
  /** Gives the slot back. Idempotent; safe to call from every exit path. */
  release(): Promise<void>;
}

export const DEFAULT_LEASE_MS = 30_000;

export class StreamLimiter {
  private readonly leaseMs: number;
  private readonly renewMs: number;

  constructor(private readonly store: LeaseStore, private readonly opts: StreamLimiterOptions) {
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.renewMs = opts.renewMs ?? Math.floor(this.leaseMs / 3);
  }

  /** Takes a slot for one stream of `tenantId` on `hostId`, or throws ERR_TOO_MANY_STREAMS (429). */
  async acquire(tenantId: string, hostId: string): Promise<StreamLease> {
    const keys = leaseKeys(tenantId, hostId);
    const id = randomBytes(12).toString('hex');
    const outcome = await this.store.acquire(keys, id, this.opts, this.leaseMs);
    if (outcome === 'tenant-full') {
      throw new ForkdError('ERR_TOO_MANY_STREAMS', `this tenant already has ${this.opts.perTenant} open streams (logs, exec), its limit (FORKD_STREAMS_PER_TENANT): close one and retry`, {
        detail: { scope: 'tenant', limit: this.opts.perTenant, setting: 'FORKD_STREAMS_PER_TENANT' },
      });
    }
    if (outcome === 'host-full') {
      throw new ForkdError('ERR_TOO_MANY_STREAMS', `host ${hostId} already carries ${this.opts.perHost} open streams (logs, exec), its limit (FORKD_STREAMS_PER_HOST): retry later`, {
        detail: { scope: 'host', hostId, limit: this.opts.perHost, setting: 'FORKD_STREAMS_PER_HOST' },
      });
    }
    const timer = setInterval(() => {
      this.store.renew(keys, id, this.leaseMs).catch((err: unknown) => this.opts.onRenewError?.(err));
    }, this.renewMs);
    timer.unref();
    let released: Promise<void> | undefined;
    return {
      id,
      release: () => {
        clearInterval(timer);
        released ??= this.store.release(keys, id);
        return released;
      },
    };
  }
}
