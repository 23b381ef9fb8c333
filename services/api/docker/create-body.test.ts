import { describe, expect, it } from 'vitest';
import { parseCreate } from './create-body.js';

describe('a Docker create body', () => {
  it('becomes forkd\'s create, made without starting, with the settings forkd does not hold', () => {
    const { body, settings } = parseCreate({
      Image: 'busybox', Cmd: ['sh', '-c', 'echo hi'], Env: ['A=1'], WorkingDir: '/tmp', User: 'nobody', Tty: true, OpenStdin: true,
      Labels: { app: 'web' }, ExposedPorts: { '80/tcp': {} },
      HostConfig: { AutoRemove: true, Memory: 512 * 1024 * 1024, NanoCpus: 1_500_000_000, PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] }, NetworkMode: 'bridge' },
    }, 'web');
    expect(body).toEqual({
      image: 'busybox', command: ['sh', '-c', 'echo hi'], env: ['A=1'], workingDir: '/tmp', user: 'nobody', name: 'web',
      memoryMib: 512, cpus: 1.5, vm: { vcpus: 2, memoryMib: 640 }, ports: [{ containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1' }], network: 'default',
      tty: true, openStdin: true, start: false,
    });
    expect(settings).toMatchObject({ image: 'busybox', tty: true, openStdin: true, autoRemove: true, labels: { app: 'web' }, networkMode: 'bridge' });
  });

  it('takes the network from NetworkingConfig when NetworkMode is absent (compose)', () => {
    expect(parseCreate({ Image: 'busybox', NetworkingConfig: { EndpointsConfig: { app_default: {} } } }, undefined).body.network).toBe('app_default');
    expect(parseCreate({ Image: 'busybox' }, undefined).body.network).toBe('default');
  });

  it('refuses faults with a 400 naming the field', () => {
    expect(() => parseCreate(null, undefined)).toThrow(/config cannot be empty/);
    expect(() => parseCreate({ Cmd: ['true'] }, undefined)).toThrow(/Image is required/);
    expect(() => parseCreate({ Image: 'busybox', Env: ['=x'] }, undefined)).toThrow(/invalid environment variable/);
    expect(() => parseCreate({ Image: 'busybox', Cmd: [1] }, undefined)).toThrow(/Cmd must be a list of strings/);
    expect(() => parseCreate({ Image: 'busybox' }, 'bad name!')).toThrow(/Invalid container name/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { Memory: 1024 } }, undefined)).toThrow(/Minimum memory limit/);
  });

  it('passes the terminal\'s first size (ConsoleSize is [height, width]) only with Tty', () => {
    expect(parseCreate({ Image: 'busybox', Tty: true, HostConfig: { ConsoleSize: [40, 120] } }, undefined).body).toMatchObject({ tty: true, consoleSize: { rows: 40, cols: 120 } });
    expect(parseCreate({ Image: 'busybox', Tty: true, HostConfig: { ConsoleSize: [0, 0] } }, undefined).body.consoleSize).toBeUndefined();
    expect(parseCreate({ Image: 'busybox', HostConfig: { ConsoleSize: [40, 120] } }, undefined).body).not.toHaveProperty('tty');
  });

  it('takes network aliases (compose\'s service name) for the network it joins', () => {
    const { body, settings } = parseCreate({ Image: 'busybox', HostConfig: { NetworkMode: 'app_default' }, NetworkingConfig: { EndpointsConfig: { app_default: { Aliases: ['web', 'web'] } } } }, 'app_web_1');
    expect(body.aliases).toEqual(['web']);
    expect(settings.aliases).toEqual(['web']);
    expect(parseCreate({ Image: 'busybox' }, undefined).body).not.toHaveProperty('aliases');
  });

  it('mounts named volumes from Binds and Mounts, and makes anonymous ones for Config.Volumes not mounted otherwise', () => {
    const { body, settings } = parseCreate({
      Image: 'busybox', Volumes: { '/srv': {}, '/cache': {} },
      HostConfig: { Binds: ['pages:/srv:rw', 'conf:/etc/app:ro'], Mounts: [{ Type: 'volume', Source: 'logs', Target: '/var/log', ReadOnly: false }] },
    }, undefined);
    expect(body.volumes!.slice(0, 3)).toEqual([
      { volume: 'pages', path: '/srv', readOnly: false }, { volume: 'conf', path: '/etc/app', readOnly: true }, { volume: 'logs', path: '/var/log', readOnly: false },
    ]);
    expect(body.volumes![3]).toMatchObject({ path: '/cache', volume: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(settings.anonymousVolumes).toEqual([body.volumes![3]!.volume]);
  });

  it('says what forkd does not do: host networking, udp ports, host bind mounts', () => {
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { NetworkMode: 'host' } }, undefined)).toThrow(/network mode host is not supported/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { PortBindings: { '53/udp': [{}] } } }, undefined)).toThrow(/udp ports is not supported/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { Binds: ['/etc:/data'] } }, undefined)).toThrow(/host bind mounts are not supported by forkd/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { Mounts: [{ Type: 'bind', Source: '/etc', Target: '/x' }] } }, undefined)).toThrow(/host bind mounts are not supported by forkd/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { Mounts: [{ Type: 'tmpfs', Target: '/x' }] } }, undefined)).toThrow(/mount type tmpfs is not supported/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { Binds: ['data:relative'] } }, undefined)).toThrow(/absolute path/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { Binds: ['data:/data:bogus'] } }, undefined)).toThrow(/invalid mode: bogus/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { Binds: ['data:/data'] } }, undefined)).not.toThrow();
  });
});
