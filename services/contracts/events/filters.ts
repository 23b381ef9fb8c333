// Which events a reader wants: the tenant rule (a tenant sees only its own) and
// the client's filters. Pure, so the rule is unit-tested apart from Redis.
import type { ForkdEvent } from './event.js';

/** Each present list must contain the event's value (OR within a list, AND across lists), as Docker's filters do. */
export interface EventFilters {
  type?: readonly string[];
  action?: readonly string[];
  /** Matches the actor's id or name. */
  actor?: readonly string[];
}

/** `'all'` is for admin keys only: the caller decides who may ask for it. */
export type EventScope = string | 'all';

export function eventMatches(event: ForkdEvent, scope: EventScope, filters: EventFilters = {}): boolean {
  if (scope !== 'all' && event.tenantId !== scope) return false;
  if (filters.type?.length && !filters.type.includes(event.type)) return false;
  if (filters.action?.length && !filters.action.includes(event.action)) return false;
  if (filters.actor?.length && !filters.actor.some((a) => a === event.actor.id || a === event.actor.name)) return false;
  return true;
}
