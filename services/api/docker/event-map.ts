// forkd's lifecycle events (contracts/events) in the shape `docker events`,
// dockerode and docker-py read: `Type`, `Action`, `Actor{ID,Attributes}`,
// `scope`, `time` (s), `timeNano`, and for containers the old `status`, `id`,
// `from`. forkd's VM and template events have no Docker type and are not sent.
import { ForkdError } from '../../contracts/errors.js';
import type { ForkdEvent } from '../../contracts/events/index.js';
import { checkFilterKeys, labelMatches, type Filters } from './filters.js';
import { dockerId } from './ids.js';

export interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

/** What the Docker layer knows of a container beyond the event: its image as named and its labels. */
export interface ContainerFacts {
  image?: string;
  labels?: Record<string, string>;
}

/** Docker's action names for forkd's, per type. */
const ACTIONS: Record<string, Record<string, string>> = {
  container: { create: 'create', start: 'start', die: 'die', destroy: 'destroy' },
  image: { import: 'load', pull: 'pull', push: 'push', tag: 'tag', delete: 'delete' },
  network: { create: 'create', delete: 'destroy' },
  volume: { create: 'create', destroy: 'destroy', mount: 'mount', unmount: 'unmount' },
};

export const EVENT_FILTER_KEYS = ['type', 'event', 'container', 'image', 'label', 'network', 'volume'] as const;

export function toDockerEvent(e: ForkdEvent, facts: ContainerFacts = {}): DockerEvent | undefined {
  const action = ACTIONS[e.type]?.[e.action];
  if (!action) return undefined;
  const timeNano = e.time * 1_000_000;
  const time = Math.floor(e.time / 1000);
  const attributes: Record<string, string> = { ...(e.actor.name ? { name: e.actor.name } : {}) };
  if (e.type === 'container') {
    const image = facts.image ?? e.actor.attributes['image'] ?? '';
    Object.assign(attributes, facts.labels ?? {}, { image });
    if (action === 'die') {
      attributes['exitCode'] = e.actor.attributes['exitCode'] ?? '0';
      if (e.actor.attributes['oomKilled'] === 'true') attributes['oomKilled'] = 'true';
    }
    const id = dockerId(e.actor.id);
    return { status: action, id, from: image, Type: 'container', Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local', time, timeNano };
  }
  if (e.type === 'network') attributes['type'] = 'bridge';
  if (e.type === 'volume') attributes['driver'] = 'local';
  const id = e.type === 'network' ? dockerId(e.actor.id) : e.type === 'volume' ? (e.actor.name ?? e.actor.id) : e.actor.id;
  return { Type: e.type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local', time, timeNano };
}

/** Docker's event filters: OR within a key, AND across keys. */
export function dockerEventMatches(d: DockerEvent, filters: Filters): boolean {
  checkFilterKeys(filters, EVENT_FILTER_KEYS);
  const any = (key: string, test: (v: string) => boolean) => { const vs = filters.get(key); return !vs || vs.length === 0 || vs.some(test); };
  const name = d.Actor.Attributes['name'];
  return any('type', (v) => v === d.Type)
    && any('event', (v) => v === d.Action)
    && any('container', (v) => d.Type === 'container' && (d.Actor.ID.startsWith(v) || name === v))
    && any('image', (v) => (d.Actor.Attributes['image'] ?? '') === v || d.from === v)
    && any('label', (v) => labelMatches(d.Actor.Attributes, v))
    && any('network', (v) => d.Type === 'network' && (d.Actor.ID.startsWith(v) || name === v))
    && any('volume', (v) => d.Type === 'volume' && d.Actor.ID === v);
}

/** `since`/`until` as Docker sends them: unix seconds (maybe fractional), or an RFC 3339 date. Milliseconds; undefined when absent. */
export function dockerTime(raw: unknown, field: string, now = Date.now()): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const s = String(raw);
  if (/^\d+(\.\d+)?$/.test(s)) return Math.floor(Number(s) * 1000);
  const rel = /^(\d+)(s|m|h)$/.exec(s);
  if (rel) return now - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[rel[2] as 's' | 'm' | 'h'];
  const ms = Date.parse(s);
  if (Number.isFinite(ms)) return ms;
  throw new ForkdError('ERR_VALIDATION', `invalid ${field}: ${JSON.stringify(s)} is not a timestamp`, { field: `query.${field}` });
}
