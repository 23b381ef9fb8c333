import { PrismaClientKnownRequestError } from '@prisma/client/runtime/client';
import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { isUniqueViolation, toForkdError } from './errors.js';

const known = (code: string, meta?: Record<string, unknown>): PrismaClientKnownRequestError =>
  new PrismaClientKnownRequestError('boom', { code, clientVersion: 'test', ...(meta === undefined ? {} : { meta }) });

describe('toForkdError', () => {
  it('maps unique violations from either adapter to ERR_CONFLICT with the fields', () => {
    const sqlite = known('P2002', { driverAdapterError: { cause: { constraint: { fields: ['mac'] }, table: 'Vm' } } });
    const postgres = known('P2002', { driverAdapterError: { cause: { constraint: { index: 'Image_tenantId_digest_key' }, table: 'Image' } } });
    expect(toForkdError(sqlite)).toMatchObject({ code: 'ERR_CONFLICT', detail: { fields: ['mac'] } });
    expect(toForkdError(postgres)).toMatchObject({ code: 'ERR_CONFLICT', detail: { fields: ['tenantId', 'digest'] } });
    expect(isUniqueViolation(sqlite, 'mac')).toBe(true);
    expect(isUniqueViolation(postgres, 'mac')).toBe(false);
    expect(isUniqueViolation(new Error('x'))).toBe(false);
  });

  it('maps reference and not-found errors, and passes ForkdErrors through', () => {
    expect(toForkdError(known('P2003')).code).toBe('ERR_CONFLICT');
    expect(toForkdError(known('P2025')).code).toBe('ERR_NOT_FOUND');
    expect(toForkdError(known('P1001')).code).toBe('ERR_DATABASE');
    expect(toForkdError(new Error('socket closed')).code).toBe('ERR_DATABASE');
    const own = new ForkdError('ERR_QUOTA', 'no');
    expect(toForkdError(own)).toBe(own);
  });
});
