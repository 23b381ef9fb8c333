// Waiting for an operation this process started as one step of another
// (a desktop's create waits for its seed container, snapshot and fork).
import { ForkdError, isErrorCode } from '../../contracts/errors.js';
import type { Operations } from '../operations/operations.js';
import type { OperationView } from '../operations/rules.js';

export type OperationWaiter = Pick<Operations, 'get'>;

/** The operation's result once it succeeded; its error, as a ForkdError, if it failed. */
export async function awaitOperation(operations: OperationWaiter, tenantId: string, op: OperationView): Promise<unknown> {
  let view = op;
  while (view.state === 'running' || view.state === 'queued') {
    view = await operations.get(tenantId, op.id, 30_000, view.updatedAt);
  }
  if (view.state === 'failed') {
    const code = view.error?.code;
    throw new ForkdError(code && isErrorCode(code) ? code : 'ERR_INTERNAL', view.error?.message ?? `operation ${op.id} failed`);
  }
  return view.result;
}
