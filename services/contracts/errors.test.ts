import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from './config.js';
import { ERRORS, ForkdError } from './errors.js';
import { decodeJobError, encodeJobError } from './jobs.js';

describe('the error catalogue', () => {
  const doc = readFileSync(join(PACKAGE_ROOT, 'docs', 'errors.md'), 'utf8');

  it.each(Object.keys(ERRORS))('documents %s in docs/errors.md with its status', (code) => {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    expect(row, `docs/errors.md has no row for ${code}`).toBeDefined();
    expect(row).toContain(`| ${ERRORS[code as keyof typeof ERRORS].status} |`);
  });

  it('survives a trip through a job failure reason', () => {
    const e = new ForkdError('ERR_VALIDATION', 'memoryMib must be ≥ 64', { field: 'memoryMib', detail: { min: 64 } });
    const back = ForkdError.fromJSON(decodeJobError(encodeJobError(e.toJSON()))!);
    expect(back).toMatchObject({ code: 'ERR_VALIDATION', message: 'memoryMib must be ≥ 64', field: 'memoryMib', detail: { min: 64 } });
    expect(back.status).toBe(400);
  });

  it('treats an unknown code from a peer as internal, and a non-forkd failure reason as none', () => {
    expect(ForkdError.fromJSON({ error: { code: 'ERR_WHAT', message: 'x' } }).code).toBe('ERR_INTERNAL');
    expect(decodeJobError('Error: boom')).toBeUndefined();
    expect(decodeJobError('forkd-error:{not json')).toBeUndefined();
  });
});
