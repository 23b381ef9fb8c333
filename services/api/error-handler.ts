// Every error leaves the API as `{ error: { code, message, field? } }` with the
// status from the catalogue. Fastify's own errors (schema validation, bad JSON,
// body too large, unknown route) are translated here, in one place.
import type { FastifyError, FastifyInstance } from 'fastify';
import { ForkdError } from '../contracts/errors.js';
import { toForkdError as fromDatabaseError } from './db/errors.js';

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** The dotted name of the field an Ajv issue is about (`body.memoryMib`, `query.follow`). */
export function fieldOfValidationIssue(issue: AjvIssue, context: string | undefined): string {
  const path = (issue.instancePath ?? '').split('/').filter(Boolean);
  const missing = issue.params?.missingProperty ?? issue.params?.additionalProperty;
  if (typeof missing === 'string') path.push(missing);
  return [context ?? 'body', ...path].join('.');
}

export function toForkdError(err: unknown): ForkdError {
  if (err instanceof ForkdError) return err;
  if (/^PrismaClient/.test((err as Error)?.constructor?.name ?? '')) return fromDatabaseError(err);
  const e = err as FastifyError & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(e.validation) && e.validation.length > 0) {
    const issue = e.validation[0]!;
    const field = fieldOfValidationIssue(issue, e.validationContext);
    const why = issue.keyword === 'additionalProperties' ? 'is not a known field' : issue.keyword === 'required' ? 'is required' : issue.message ?? 'is invalid';
    return new ForkdError('ERR_VALIDATION', `${field} ${why}`, { field });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ForkdError('ERR_PAYLOAD_TOO_LARGE', e.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ForkdError('ERR_VALIDATION', e.message, { field: 'body' });
  }
  if (e.statusCode === 400 && e instanceof SyntaxError) return new ForkdError('ERR_VALIDATION', `body is not valid JSON: ${e.message}`, { field: 'body' });
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ForkdError('ERR_VALIDATION', e.message);
  }
  return new ForkdError('ERR_INTERNAL', 'internal error', { cause: err });
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const fe = toForkdError(err);
    if (fe.code === 'ERR_INTERNAL') request.log.error({ err }, 'unhandled error');
    void reply.status(fe.status).send(fe.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const fe = new ForkdError('ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(404).send(fe.toJSON());
  });
}
