import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ForkdError } from '../errors.js';
import { openEnv, readStoredEnv, redactEnv, sealEnv } from './env.js';

const key = randomBytes(32);
const env = ['PATH=/bin', 'API_TOKEN=s3cr3t=with=equals', 'EMPTY='];

describe('container env', () => {
  it('seals for one container and opens for that container only', () => {
    const sealed = sealEnv(key, 'c1', env);
    expect(sealed).not.toContain('s3cr3t');
    expect(sealed).not.toContain('API_TOKEN');
    expect(openEnv(key, 'c1', sealed)).toEqual(env);
    expect(() => openEnv(key, 'c2', sealed)).toThrow(ForkdError);
  });

  it('reads a stored column: an envelope, or a plain list from before sealing', () => {
    expect(readStoredEnv(key, 'c1', sealEnv(key, 'c1', env))).toEqual(env);
    expect(readStoredEnv(key, 'c1', env)).toEqual(env);
    expect(readStoredEnv(key, 'c1', null)).toEqual([]);
  });

  it('a stored envelope sealed under another key fails loudly instead of reading as empty', () => {
    expect(readStoredEnv(key, 'c1', sealEnv(key, 'c1', env))).toEqual(env);
    expect(() => readStoredEnv(randomBytes(32), 'c1', sealEnv(key, 'c1', env))).toThrow(/sealed under key/);
  });

  it('redacts values and keeps names (values holding = included)', () => {
    expect(redactEnv(env)).toEqual(['PATH=<redacted>', 'API_TOKEN=<redacted>', 'EMPTY=<redacted>']);
    expect(redactEnv(env).join('\n')).not.toContain('s3cr3t');
  });
});
