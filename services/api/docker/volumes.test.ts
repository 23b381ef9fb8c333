import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { parseBind } from './volumes.js';

describe('a -v bind of the Docker API', () => {
  it('names a volume and a path, read-only with ro', () => {
    expect(parseBind('data:/data', 'b')).toEqual({ volume: 'data', path: '/data', readOnly: false });
    expect(parseBind('data:/data:ro', 'b')).toEqual({ volume: 'data', path: '/data', readOnly: true });
    expect(parseBind('data:/data:rw,nocopy', 'b')).toEqual({ volume: 'data', path: '/data', readOnly: false });
  });

  it('refuses a host path with a 400 naming the field and saying why', () => {
    const err = (() => { try { parseBind('/srv/www:/www', 'HostConfig.Binds[0]'); } catch (e) { return e; } return null; })();
    expect(err).toBeInstanceOf(ForkdError);
    expect(err).toMatchObject({ code: 'ERR_VALIDATION', field: 'HostConfig.Binds[0]', message: expect.stringMatching(/host bind mounts are not supported by forkd.*use a named volume/) });
    expect(() => parseBind('./here:/www', 'b')).toThrow(/host bind mounts/);
    expect(() => parseBind('data', 'b')).toThrow(/invalid volume specification/);
  });
});
