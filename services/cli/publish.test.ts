import { describe, expect, it } from 'vitest';
import { ForkdError } from '../contracts/errors.js';
import { parsePublish } from './publish.js';

const refused = (spec: string): ForkdError => {
  try {
    parsePublish(spec);
  } catch (err) {
    return err as ForkdError;
  }
  throw new Error(`${spec} was accepted`);
};

describe('forkd run -p', () => {
  it('reads Docker\'s IPv4 TCP forms', () => {
    expect(parsePublish('80')).toEqual({ containerPort: 80 });
    expect(parsePublish('8080:80')).toEqual({ containerPort: 80, hostPort: 8080 });
    expect(parsePublish('0.0.0.0:8080:80')).toEqual({ containerPort: 80, hostPort: 8080, hostIp: '0.0.0.0' });
    expect(parsePublish('10.0.0.1::80')).toEqual({ containerPort: 80, hostIp: '10.0.0.1' });
    expect(parsePublish('8080:80/tcp')).toEqual({ containerPort: 80, hostPort: 8080 });
    expect(parsePublish('80/TCP')).toEqual({ containerPort: 80 });
  });

  it('refuses udp with a clear message', () => {
    expect(refused('53:53/udp').message).toMatch(/only tcp/);
    expect(refused('53/udp').field).toBe('ports');
  });

  it('refuses what is not one of the forms', () => {
    for (const bad of ['', 'abc', '80:', ':80', '1:2:3:4', '8080:80/', '80/http', '0', '70000', '8080:0', '65536:80', '127.0.0.1:80', '300.0.0.1:80:80', 'localhost:80:80', '[::1]:80:80', '::80']) {
      const e = refused(bad);
      expect(e, bad).toBeInstanceOf(ForkdError);
      expect(e.code, bad).toBe('ERR_VALIDATION');
    }
    expect(refused('[::1]:80:80').message).toMatch(/IPv4/);
  });
});
