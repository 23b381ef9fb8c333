// Turns what Prisma throws into forkd's error catalogue, in one place, so
// routes and jobs never inspect Prisma error codes themselves. Both generated
// clients throw the classes of the one shared runtime (@prisma/client).
import { PrismaClientInitializationError, PrismaClientKnownRequestError } from '@prisma/client/runtime/client';
import { ForkdError } from '../../contracts/errors.js';

/** Prisma's code for a unique constraint violation, for callers that retry (e.g. a new MAC). */
export function isUniqueViolation(err: unknown, field?: string): boolean {
  if (!(err instanceof PrismaClientKnownRequestError) || err.code !== 'P2002') return false;
  return field === undefined || targetFields(err).includes(field);
}

/**
 * ERR_CONFLICT for unique and foreign-key violations (with the fields in
 * `detail`), ERR_NOT_FOUND for a record an update or delete needed, and
 * ERR_DATABASE for everything the database itself failed at. A ForkdError
 * passes through unchanged.
 */
export function toForkdError(err: unknown): ForkdError {
  if (err instanceof ForkdError) return err;
  if (err instanceof PrismaClientKnownRequestError) {
    switch (err.code) {
      case 'P2002':
        return new ForkdError('ERR_CONFLICT', `already exists (unique: ${targetFields(err).join(', ') || 'unknown'})`, {
          detail: { fields: targetFields(err) },
          cause: err,
        });
      case 'P2003':
      case 'P2014':
        return new ForkdError('ERR_CONFLICT', 'the change would break a reference between records (it is still in use, or what it points to is gone)', {
          detail: { prismaCode: err.code },
          cause: err,
        });
      case 'P2025':
      case 'P2001':
        return new ForkdError('ERR_NOT_FOUND', 'the record does not exist', { cause: err });
      default:
        return new ForkdError('ERR_DATABASE', `database error ${err.code}: ${err.message}`, { detail: { prismaCode: err.code }, cause: err });
    }
  }
  if (err instanceof PrismaClientInitializationError) {
    return new ForkdError('ERR_DATABASE', `cannot reach the database: ${err.message}`, { cause: err });
  }
  return new ForkdError('ERR_DATABASE', `database error: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

function targetFields(err: PrismaClientKnownRequestError): string[] {
  const meta = err.meta as Record<string, unknown> | undefined;
  if (Array.isArray(meta?.target)) return meta.target.map(String);
  // Driver adapters report SQLite's columns, but only PostgreSQL's index name;
  // Prisma names unique indexes <Model>_<field>_<field>_key, and forkd's field
  // names have no underscores, so the name gives the fields back.
  const cause = (meta?.driverAdapterError as { cause?: { constraint?: { fields?: unknown; index?: unknown }; table?: unknown } } | undefined)?.cause;
  const fields = cause?.constraint?.fields;
  if (Array.isArray(fields)) return fields.map((f) => String(f).replace(/^"|"$/g, ''));
  const index = cause?.constraint?.index;
  const table = typeof cause?.table === 'string' ? cause.table : undefined;
  if (typeof index === 'string' && table !== undefined && index.startsWith(`${table}_`) && index.endsWith('_key')) {
    return index.slice(table.length + 1, -'_key'.length).split('_');
  }
  return [];
}
