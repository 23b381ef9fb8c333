// The shape every lifecycle in forkd shares: a closed set of states and the
// table of legal moves between them. A resource module (vm.ts, container.ts,
// template.ts, operation.ts) declares its table once; hostd and the API both
// check moves against it, so no service keeps a private vocabulary.
import { ForkdError } from '../errors.js';

/** A refused move, with the resource and both states in `detail`. */
export class IllegalTransitionError extends ForkdError {
  constructor(readonly resource: string, readonly from: string, readonly to: string, id?: string) {
    super('ERR_ILLEGAL_TRANSITION', `${resource}${id ? ` ${id}` : ''} cannot go from ${from} to ${to}`, { detail: { resource, from, to, ...(id ? { id } : {}) } });
    this.name = 'IllegalTransitionError';
  }
}

export interface Lifecycle<S extends string> {
  readonly resource: string;
  readonly states: readonly S[];
  /** Every legal move; a state absent from the right-hand lists is never entered after creation. */
  readonly transitions: Readonly<Record<S, readonly S[]>>;
  isState(value: unknown): value is S;
  can(from: S, to: S): boolean;
  /** `to` when the move is legal; IllegalTransitionError otherwise. Staying in a state is not a move and is always allowed. */
  transition(from: S, to: S, id?: string): S;
}

export function defineLifecycle<S extends string>(resource: string, states: readonly S[], transitions: Record<S, readonly S[]>): Lifecycle<S> {
  return {
    resource,
    states,
    transitions,
    isState: (value: unknown): value is S => typeof value === 'string' && (states as readonly string[]).includes(value),
    can: (from, to) => from === to || transitions[from].includes(to),
    transition(from, to, id) {
      if (!this.can(from, to)) throw new IllegalTransitionError(resource, from, to, id);
      return to;
    },
  };
}
