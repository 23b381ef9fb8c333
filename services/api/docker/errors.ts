// Errors as Docker clients read them: `{"message": "…"}` with Content-Type
// exactly application/json, the status from forkd's error catalogue, and the
// wording clients match on ("No such container: x").
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ForkdError } from '../../contracts/errors.js';
import { toForkdError } from '../error-handler.js';

export const noSuchContainer = (ref: string) => new ForkdError('ERR_NOT_FOUND', `No such container: ${ref}`);
export const noSuchImage = (ref: string) => new ForkdError('ERR_NOT_FOUND', `No such image: ${ref}`);
export const noSuchExec = (ref: string) => new ForkdError('ERR_NOT_FOUND', `No such exec instance: ${ref}`);
export const noSuchNetwork = (ref: string) => new ForkdError('ERR_NOT_FOUND', `network ${ref} not found`);

/** What forkd's Docker endpoint does not do (yet): a clear answer instead of a hang. 501 in the catalogue. */
export function notSupported(what: string, hint = ''): ForkdError {
  return new ForkdError('ERR_NOT_IMPLEMENTED', `${what} is not supported by forkd's Docker Engine API${hint ? `: ${hint}` : ''} (see docs/docker.md)`);
}

/**
 * A start failure worded so the CLI picks Docker's exit code: it looks for
 * "executable file not found" or "no such file or directory" (127) and
 * "permission denied" (126), case and all; crun words them its own way.
 */
export function startFailure(err: unknown): unknown {
  if (!(err instanceof ForkdError) || err.code !== 'ERR_CONTAINER_START') return err;
  let msg = err.message;
  if (/permission denied/i.test(msg) && !msg.includes('permission denied')) msg += ': permission denied';
  else if (/not found|no such file/i.test(msg) && !msg.includes('executable file not found') && !msg.includes('no such file or directory')) msg += ': executable file not found';
  return msg === err.message ? err : new ForkdError(err.code, msg, { cause: err });
}

/** Answers an error in Docker's shape on a reply that has not been hijacked. */
export function sendDockerError(reply: FastifyReply, err: unknown): void {
  const fe = toForkdError(err);
  void reply.status(fe.status).header('content-type', 'application/json').send(JSON.stringify({ message: fe.message }));
}

/** An error line for a stream whose 200 is already out (wait, load): the client reads `message`. */
export function errorBody(err: unknown): string {
  return JSON.stringify({ message: toForkdError(err).message });
}

export function installDockerErrors(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const fe = toForkdError(err);
    if (fe.code === 'ERR_INTERNAL') request.log.error({ err }, 'unhandled error in the Docker API');
    sendDockerError(reply, fe);
  });
}
