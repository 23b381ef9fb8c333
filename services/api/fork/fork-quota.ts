// A fork over quota answers 403 ERR_FORK_QUOTA (docs/fork.md "Rules and refusals").
import { ForkdError } from '../../contracts/errors.js';

/**
 * ERR_QUOTA from the children's reservation as ERR_FORK_QUOTA (403): the
 * issue's contract for forks. A quota does not lift by waiting, so a fork of
 * N over it is refused, not throttled (429 invites clients' automatic retries);
 * ERR_QUOTA keeps 429 on the other endpoints so their clients see no change.
 */
export async function forkQuota<T>(count: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ForkdError) || err.code !== 'ERR_QUOTA') throw err;
    throw new ForkdError('ERR_FORK_QUOTA', `a fork of ${count} would pass the tenant's quota (${err.message}); nothing was created`, {
      ...(err.field === undefined ? {} : { field: err.field }),
      detail: { ...(err.detail ?? {}), count },
      cause: err,
    });
  }
}
