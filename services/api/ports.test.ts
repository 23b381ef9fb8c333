import { describe, expect, it } from 'vitest';
import { ForkdError } from '../contracts/errors.js';
import { decodeJobError, encodeJobError } from '../contracts/jobs.js';
import { firstClash, normalizePorts, sameBind } from './ports.js';

describe('published ports', () => {
  it('collide on the same address and port, or on the wildcard and any address', () => {
    expect(sameBind({ ip: '127.0.0.1', port: 80 }, { ip: '127.0.0.1', port: 80 })).toBe(true);
    expect(sameBind({ ip: '0.0.0.0', port: 80 }, { ip: '10.0.0.1', port: 80 })).toBe(true);
    expect(sameBind({ ip: '10.0.0.1', port: 80 }, { ip: '0.0.0.0', port: 80 })).toBe(true);
    expect(sameBind({ ip: '127.0.0.1', port: 80 }, { ip: '10.0.0.1', port: 80 })).toBe(false);
    expect(sameBind({ ip: '127.0.0.1', port: 80 }, { ip: '127.0.0.1', port: 81 })).toBe(false);
    expect(sameBind({ ip: '127.0.0.1', port: 0 }, { ip: '127.0.0.1', port: 0 })).toBe(false); // 0: the host picks
  });

  it('finds the first requested port someone holds', () => {
    const held = [{ owner: 'a', port: { hostAddress: '127.0.0.1', hostPort: 8080 } }];
    expect(firstClash([{ containerPort: 80, hostPort: 8080 }], held)).toEqual({ want: '127.0.0.1:8080', owner: 'a' });
    expect(firstClash([{ containerPort: 80, hostPort: 8080, hostIp: '10.1.1.1' }], held)).toBeUndefined();
    expect(firstClash([{ containerPort: 80 }], held)).toBeUndefined();
  });

  it('fills in 127.0.0.1 and refuses bad addresses and one bind asked twice, on `ports`', () => {
    expect(normalizePorts([{ containerPort: 80 }])).toEqual([{ containerPort: 80, hostIp: '127.0.0.1' }]);
    expect(normalizePorts(undefined)).toEqual([]);
    expect(normalizePorts([{ containerPort: 80, hostPort: 0 }, { containerPort: 81, hostPort: 0 }])).toHaveLength(2);
    for (const bad of [[{ containerPort: 80, hostIp: '::1' }], [{ containerPort: 80, hostPort: 1 }, { containerPort: 81, hostPort: 1, hostIp: '0.0.0.0' }]]) {
      const err = (() => { try { normalizePorts(bad); } catch (e) { return e; } return undefined; })() as ForkdError;
      expect(err).toBeInstanceOf(ForkdError);
      expect(err.field).toBe('ports');
    }
  });

  it('hostd\'s EADDRINUSE answer (ERR_CONFLICT on `ports`) comes through the job error as a 409 on `ports`', () => {
    const sent = new ForkdError('ERR_CONFLICT', 'port 127.0.0.1:8080 is in use on the host', { field: 'ports' });
    const got = ForkdError.fromJSON(decodeJobError(encodeJobError(sent.toJSON()))!);
    expect([got.code, got.status, got.field]).toEqual(['ERR_CONFLICT', 409, 'ports']);
  });
});
