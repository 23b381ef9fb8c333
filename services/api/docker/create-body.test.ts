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
      memoryMib: 512, cpus: 1.5, vm: { vcpus: 2, memoryMib: 640 }, ports: [{ containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1' }], network: 'default', start: false,
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

  it('says what forkd does not do: host networking, udp ports, volumes (until wired)', () => {
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { NetworkMode: 'host' } }, undefined)).toThrow(/network mode host is not supported/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { PortBindings: { '53/udp': [{}] } } }, undefined)).toThrow(/udp ports is not supported/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { Binds: ['data:/data'] } }, undefined)).toThrow(/mounting volumes/);
    expect(() => parseCreate({ Image: 'busybox', HostConfig: { Binds: [] } }, undefined)).not.toThrow();
  });
});
