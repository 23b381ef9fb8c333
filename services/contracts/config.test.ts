import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, IMAGE_MAX_LAYERS_CEILING, PACKAGE_ROOT, loadConfig, sanitizeHostId } from './config.js';
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
    expect(c.jobLockMs).toBe(60_000);
    expect(loadConfig({ FORKD_JOB_LOCK_SEC: '8' }).jobLockMs).toBe(8000);
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
    expect(configError({ FORKD_JOB_LOCK_SEC: '1' })).toMatchObject({ field: 'FORKD_JOB_LOCK_SEC' }); // under 2 s a renewal (every half) races the expiry
    expect(configError({ FORKD_RECONCILE_INTERVAL_MS: '-1' })).toMatchObject({ field: 'FORKD_RECONCILE_INTERVAL_MS' });
    expect(configError({ FORKD_RECONCILE_ORPHAN_GRACE_MS: 'later' })).toMatchObject({ field: 'FORKD_RECONCILE_ORPHAN_GRACE_MS' });
    // Positive control: defaults, and 0 (only at start / no grace) is allowed.
    expect(loadConfig({})).toMatchObject({ reconcileIntervalMs: 30_000, orphanGraceMs: 120_000 });
    expect(loadConfig({ FORKD_RECONCILE_INTERVAL_MS: '0', FORKD_RECONCILE_ORPHAN_GRACE_MS: '0' })).toMatchObject({ reconcileIntervalMs: 0, orphanGraceMs: 0 });
  });

  it('has image ceilings with defaults, each settable and refused out of range by name', () => {
    expect(loadConfig({}).imageLimits).toEqual({ maxUnpackedBytes: 8 * 1024 ** 3, maxLayerFiles: 500_000, maxLayers: 48 });
    const set = loadConfig({ FORKD_IMAGE_MAX_UNPACKED_BYTES: '1048576', FORKD_LAYER_MAX_FILES: '10', FORKD_IMAGE_MAX_LAYERS: String(IMAGE_MAX_LAYERS_CEILING) });
    expect(set.imageLimits).toEqual({ maxUnpackedBytes: 1048576, maxLayerFiles: 10, maxLayers: IMAGE_MAX_LAYERS_CEILING });
    for (const [name, bad] of [
      ['FORKD_IMAGE_MAX_UNPACKED_BYTES', '8GiB'],
      ['FORKD_IMAGE_MAX_UNPACKED_BYTES', '0'],
      ['FORKD_IMAGE_MAX_UNPACKED_BYTES', '1e9'],
      ['FORKD_LAYER_MAX_FILES', '-1'],
      ['FORKD_IMAGE_MAX_LAYERS', String(IMAGE_MAX_LAYERS_CEILING + 1)],
    ] as const) {
      expect(configError({ [name]: bad }), `${name}=${bad}`).toMatchObject({ code: 'ERR_CONFIG', field: name });
    }
  });

  it('bounds a stop by FORKD_STOP_TIMEOUT_SEC (default 50 s, under systemd\'s 60)', () => {
    expect(loadConfig({}).stopTimeoutSec).toBe(50);
    expect(loadConfig({ FORKD_STOP_TIMEOUT_SEC: '15' }).stopTimeoutSec).toBe(15);
    expect(configError({ FORKD_STOP_TIMEOUT_SEC: '0' })).toMatchObject({ code: 'ERR_CONFIG', field: 'FORKD_STOP_TIMEOUT_SEC' });
    expect(configError({ FORKD_STOP_TIMEOUT_SEC: 'soon' })).toMatchObject({ field: 'FORKD_STOP_TIMEOUT_SEC' });
  });

  it('reads the host port range tenants may publish, 1024-65535 by default', () => {
    expect(loadConfig({}).publishPortRange).toEqual({ min: 1024, max: 65535 });
    expect(loadConfig({ FORKD_PUBLISH_PORT_RANGE: '20000-29999' }).publishPortRange).toEqual({ min: 20000, max: 29999 });
    for (const bad of ['80', '0-100', '3000-2000', '1024-70000', 'high']) {
      expect(configError({ FORKD_PUBLISH_PORT_RANGE: bad }), bad).toMatchObject({ code: 'ERR_CONFIG', field: 'FORKD_PUBLISH_PORT_RANGE' });
    }
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

  it('takes FORKD_SECRET_KEY as 32 bytes of base64, unset by default, and names it when malformed', () => {
    const key = Buffer.alloc(32, 7);
    expect(loadConfig({}).secretKey).toBeUndefined();
    expect(loadConfig({ FORKD_SECRET_KEY: key.toString('base64') }).secretKey).toEqual(key);
    const err = configError({ FORKD_SECRET_KEY: Buffer.alloc(16, 7).toString('base64') });
    expect(err.code).toBe('ERR_CONFIG');
    expect(err.field).toBe('FORKD_SECRET_KEY');
    expect(err.message).not.toContain(Buffer.alloc(16, 7).toString('base64')); // a near-miss key is still a secret
  });

  it('reads the registry client settings: timeout, CA file, plain-HTTP registries', () => {
    const d = loadConfig({});
    expect([d.registryTimeoutMs, d.registryCaFile, d.registryInsecure]).toEqual([30_000, undefined, []]);
    const c = loadConfig({ FORKD_REGISTRY_TIMEOUT_MS: '500', FORKD_REGISTRY_CA_FILE: '/etc/ca.pem', FORKD_REGISTRY_INSECURE: ' reg.lan:5000, build.lan ,' });
    expect([c.registryTimeoutMs, c.registryCaFile, c.registryInsecure]).toEqual([500, '/etc/ca.pem', ['reg.lan:5000', 'build.lan']]);
    expect(() => loadConfig({ FORKD_REGISTRY_TIMEOUT_MS: '5' })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', field: 'FORKD_REGISTRY_TIMEOUT_MS' }));
  });

  it('documents every variable in the README', () => {
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
    for (const v of CONFIG_VARIABLES) expect(readme, v.name).toContain(`\`${v.name}\``);
  });
});
