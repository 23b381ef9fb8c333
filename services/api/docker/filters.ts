// Query filters and booleans as Docker clients send them. The CLI sends
// filters as `{"status":{"running":true}}`; dockerode and docker-py as
// `{"status":["running"]}`. Both become a map of key → values.
import { ForkdError } from '../../contracts/errors.js';

export type Filters = Map<string, string[]>;

export function parseFilters(raw: unknown): Filters {
  const out: Filters = new Map();
  if (raw === undefined || raw === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(raw));
  } catch {
    throw new ForkdError('ERR_VALIDATION', 'invalid filter: the filters parameter is not JSON', { field: 'query.filters' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ForkdError('ERR_VALIDATION', 'invalid filter: filters must be a JSON object', { field: 'query.filters' });
  }
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value)) out.set(key, value.map(String));
    else if (typeof value === 'object' && value !== null) out.set(key, Object.entries(value).filter(([, on]) => on !== false).map(([v]) => v));
    else throw new ForkdError('ERR_VALIDATION', `invalid filter '${key}'`, { field: 'query.filters' });
  }
  return out;
}

/** The keys a filter may use; any other is refused as the daemon does. */
export function checkFilterKeys(filters: Filters, allowed: readonly string[]): void {
  for (const key of filters.keys()) {
    if (!allowed.includes(key)) throw new ForkdError('ERR_VALIDATION', `invalid filter '${key}'`, { field: 'query.filters' });
  }
}

/** Docker's booleans: anything but "", "0", "no", "false", "none" is true; absent is `fallback`. */
export function queryBool(value: unknown, fallback = false): boolean {
  if (value === undefined) return fallback;
  return !['', '0', 'no', 'false', 'none'].includes(String(value).toLowerCase());
}

/** A label filter entry (`key` or `key=value`) against a container's labels. */
export function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const i = filter.indexOf('=');
  if (i < 0) return filter in labels;
  return labels[filter.slice(0, i)] === filter.slice(i + 1);
}
