// One lifecycle event, as every publisher writes it and every reader gets it.
// Events live in one Redis Stream shared by all hosts and the API, so a
// follower sees what happens on every host; the stream's entry id is the
// event's id (it orders events across publishers and is what a client resumes
// from), and its millisecond part is the event's time.

export const EVENT_TYPES = ['container', 'vm', 'template', 'image', 'network', 'volume', 'desktop'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The actions each type publishes (Docker's words where Docker has one).
 * `die` carries attributes.exitCode and attributes.oomKilled ('true'|'false').
 */
export const EVENT_ACTIONS = {
  container: ['create', 'start', 'die', 'destroy'],
  vm: ['create', 'destroy'],
  template: ['create', 'delete'],
  image: ['import', 'pull', 'push', 'tag', 'delete'],
  network: ['create', 'delete'],
  volume: ['create', 'mount', 'unmount', 'destroy'],
  /** idle-warning: FORKD_DESKTOP_IDLE_WARN_SEC before an unused desktop is removed (attributes.removeInSec). */
  desktop: ['idle-warning', 'idle-remove'],
} as const satisfies Record<EventType, readonly string[]>;

export type EventAction<T extends EventType = EventType> = (typeof EVENT_ACTIONS)[T][number];

/** What the event is about: its id, its user-facing name when it has one, and string attributes (image, exitCode…). */
export interface EventActor {
  id: string;
  name?: string;
  attributes: Record<string, string>;
}

export interface ForkdEvent {
  /** The Redis Stream entry id (`<ms>-<seq>`): unique, ordered, and what `since`/Last-Event-ID resume after. */
  id: string;
  /** Milliseconds since the epoch (the id's first part). */
  time: number;
  type: EventType;
  action: string;
  /** The tenant that owns the actor; only it (and admin keys) see the event. */
  tenantId: string;
  actor: EventActor;
}

/** What a publisher gives: the stream assigns id and time. */
export type NewEvent = Omit<ForkdEvent, 'id' | 'time'>;

/** The one stream every publisher appends to. */
export const EVENTS_STREAM_KEY = 'forkd:events';

/** Events kept by default (FORKD_EVENTS_RETAIN): a client that reconnects with `since` within this many events misses nothing. */
export const DEFAULT_EVENTS_RETAIN = 10_000;

/** `<ms>-<seq>`, as Redis Streams number entries. */
export const EVENT_ID_PATTERN = '^[0-9]{1,15}-[0-9]{1,19}$';

export function isEventId(s: string): boolean {
  return new RegExp(EVENT_ID_PATTERN).test(s);
}

/** The event's time from its id. */
export function timeOfId(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}
