// Where hostd leaves its metrics for the API: each hostd writes its
// prom-client registry (getMetricsAsJSON) under its own key every few seconds,
// with an expiry, so a host that stopped drops out of /metrics by itself. The
// API merges them with its own at each scrape (services/api/metrics/).

/** How often hostd writes its snapshot. */
export const HOST_METRICS_INTERVAL_MS = 10_000;

/** A snapshot older than this is gone (the host stopped or lost Redis). */
export const HOST_METRICS_TTL_MS = 60_000;

export const HOST_METRICS_KEY_PREFIX = 'forkd:metrics:host:';

export function hostMetricsKey(hostId: string): string {
  return `${HOST_METRICS_KEY_PREFIX}${hostId}`;
}
