import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hostAuthorization, verifyHostAuthorization } from './host-credential.js';

const key = randomBytes(32);

describe('host credentials', () => {
  it('prove the host they were made for', () => {
    expect(verifyHostAuthorization(key, hostAuthorization(key, 'host-a'))).toBe('host-a');
  });

  it('are refused when made with another key, claimed for another host, or spelled as a tenant key', () => {
    const forged = hostAuthorization(randomBytes(32), 'host-a');
    expect(verifyHostAuthorization(key, forged)).toBeNull();
    const [, proof] = hostAuthorization(key, 'host-a').split(':');
    expect(verifyHostAuthorization(key, `ForkdHost host-b:${proof}`)).toBeNull();
    expect(verifyHostAuthorization(key, `Bearer ${proof}`)).toBeNull();
    expect(verifyHostAuthorization(key, undefined)).toBeNull();
    expect(verifyHostAuthorization(key, 'ForkdHost host-a:zz')).toBeNull();
    // Positive control: the same host id with the right key passes.
    expect(verifyHostAuthorization(key, hostAuthorization(key, 'host-b'))).toBe('host-b');
  });
});
