import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, PACKAGE_ROOT, loadConfig, sanitizeHostId } from './config.js';
import { ForkdError } from './errors.js';
import { parseRedisUrl } from './redis.js';

function configError(env: NodeJS.ProcessEnv): ForkdError {
  try {
    loadConfig(env);
  } catch (err) {
    return err as ForkdError;
  }
  throw new Error('expected loadConfig to fail');
}

describe('configuration', () => {
  it('has embedded defaults', () => {
    const c = loadConfig({});
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 7700 });
    expect(c.dataDir).toBe(join(PACKAGE_ROOT, 'var'));
    expect(c.accel).toBe('auto');
    expect(c.libvirtUri).toBe('qemu:///system');
    expect(c.redisUrl).toBeUndefined();
    expect(c.network).toBe('tenant');
    expect(loadConfig({ FORKD_NETWORK: 'none' }).network).toBe('none');
    expect(c).toMatchObject({ streamsPerTenant: 16, streamsPerHost: 256, hostdJobConcurrency: 8 });
    expect(loadConfig({ FORKD_STREAMS_PER_TENANT: '3', FORKD_STREAMS_PER_HOST: '5', FORKD_HOSTD_JOB_CONCURRENCY: '2' })).toMatchObject({ streamsPerTenant: 3, streamsPerHost: 5, hostdJobConcurrency: 2 });
    // The old modes let guests reach the host: refused by name, with the reason.
    expect(configError({ FORKD_NETWORK: 'user' })).toMatchObject({ code: 'ERR_CONFIG', field: 'FORKD_NETWORK', message: expect.stringContaining('reach the host') });
    expect(configError({ FORKD_NETWORK: 'default' })).toMatchObject({ code: 'ERR_CONFIG', field: 'FORKD_NETWORK' });
  });

  it('names the variable at fault', () => {
    expect(configError({ FORKD_LISTEN: 'nowhere' })).toMatchObject({ code: 'ERR_CONFIG', field: 'FORKD_LISTEN' });
    expect(configError({ FORKD_LISTEN: '127.0.0.1:99999' })).toMatchObject({ field: 'FORKD_LISTEN' });
    expect(configError({ FORKD_ACCEL: 'hvf' })).toMatchObject({ field: 'FORKD_ACCEL' });
    expect(configError({ FORKD_NETWORK: 'bridge' })).toMatchObject({ field: 'FORKD_NETWORK' });
    expect(configError({ FORKD_HOST_ID: 'Bad Host!' })).toMatchObject({ field: 'FORKD_HOST_ID' });
    expect(configError({ FORKD_JOB_TIMEOUT_MS: 'soon' })).toMatchObject({ field: 'FORKD_JOB_TIMEOUT_MS' });
    expect(configError({ FORKD_STREAMS_PER_TENANT: '0' })).toMatchObject({ field: 'FORKD_STREAMS_PER_TENANT' });
    expect(configError({ FORKD_STREAMS_PER_HOST: 'many' })).toMatchObject({ field: 'FORKD_STREAMS_PER_HOST' });
    expect(configError({ FORKD_HOSTD_JOB_CONCURRENCY: '2.5' })).toMatchObject({ field: 'FORKD_HOSTD_JOB_CONCURRENCY' });
  });

  it('accepts IPv6 listen addresses', () => {
    expect(loadConfig({ FORKD_LISTEN: '[::1]:8080' }).listen).toEqual({ host: '::1', port: 8080 });
  });

  it('derives safe host ids from hostnames', () => {
    expect(sanitizeHostId('Build-Box.example.com')).toBe('build-box-example-com');
    expect(sanitizeHostId('***')).toBe('host');
  });

  it('parses Redis URLs, including the private unix socket form', () => {
    expect(parseRedisUrl('redis+unix:///var/x.sock')).toEqual({ path: '/var/x.sock' });
    expect(parseRedisUrl('redis://:pw@10.0.0.1:6380/2')).toMatchObject({ host: '10.0.0.1', port: 6380, password: 'pw', db: 2 });
    expect(() => parseRedisUrl('http://x')).toThrow(/REDIS_URL/);
    expect(() => parseRedisUrl('nonsense')).toThrow(/REDIS_URL/);
  });

  it('documents every variable in the README', () => {
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
    for (const v of CONFIG_VARIABLES) expect(readme, v.name).toContain(`\`${v.name}\``);
  });
});
