// Container ids as Docker clients see them, and names resolved as the daemon
// resolves them. forkd ids are UUIDs; Docker ids are hex, which clients
// shorten to 12 characters: the Docker id is the UUID without its dashes.
import { ForkdError } from '../../contracts/errors.js';
import { noSuchContainer } from './errors.js';

export function dockerId(uuid: string): string {
  return uuid.replace(/-/g, '');
}

/** The forkd UUID of a full 32-hex Docker id (or a UUID as is). */
export function forkdId(id: string): string {
  const hex = id.toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return id;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Which of `rows` `ref` names, in the daemon's order: a full id, then a name
 * (with or without its leading slash), then a unique id prefix. Unknown: 404
 * "No such container: ref"; an ambiguous prefix: 400.
 */
export function resolveContainer(rows: ReadonlyArray<{ id: string; name: string }>, ref: string): string {
  const want = ref.toLowerCase();
  const full = rows.find((r) => dockerId(r.id) === want || r.id === want);
  if (full) return full.id;
  const name = ref.replace(/^\//, '');
  const named = rows.find((r) => r.name === name);
  if (named) return named.id;
  const prefix = want.replace(/-/g, '');
  if (prefix.length > 0 && /^[0-9a-f]+$/.test(prefix)) {
    const hits = rows.filter((r) => dockerId(r.id).startsWith(prefix));
    if (hits.length > 1) throw new ForkdError('ERR_VALIDATION', `multiple IDs found with provided prefix: ${ref}`, { field: 'id' });
    if (hits[0]) return hits[0].id;
  }
  throw noSuchContainer(ref);
}
