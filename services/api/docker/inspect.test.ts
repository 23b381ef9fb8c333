import { describe, expect, it } from 'vitest';
import type { ContainerView } from '../containers.js';
import { containerInspect, containerSummary, defaultSettings, dockerStatus, statusText } from './inspect.js';

const view: ContainerView = {
  id: '11111111-2222-3333-4444-555555555555', name: 'web', image: 'sha256:abc', command: ['sh', '-c', 'echo hi'], env: ['A=1'],
  state: 'running', exitCode: null, oomKilled: false, createdAt: '2026-11-30T10:00:00.000Z', startedAt: '2026-11-30T10:00:05.000Z', finishedAt: null,
  ports: [{ containerPort: 8080, hostAddress: '127.0.0.1', hostPort: 41000 }],
  network: { id: 'net-1', name: 'default', address: '10.88.0.5' },
  volumes: [],
  tenantId: 't1',
  vm: { id: 'vm-1', hostId: 'h1', domainName: 'forkd-vm-1', boot: 'fork', vcpus: 1, memoryMib: 256 },
};

describe('inspect and ps documents', () => {
  it('maps forkd states onto Docker\'s', () => {
    expect(['created', 'running', 'exited', 'failed'].map(dockerStatus)).toEqual(['created', 'running', 'exited', 'dead']);
  });

  it('gives the name a leading slash, Labels as {} and the published ports', () => {
    const doc = containerInspect(view, defaultSettings(view), view.image, view.env);
    expect(doc.Name).toBe('/web');
    expect(doc.Config.Labels).toEqual({});
    expect(doc.State).toMatchObject({ Status: 'running', Running: true, ExitCode: 0, OOMKilled: false, StartedAt: '2026-11-30T10:00:05.000Z', FinishedAt: '0001-01-01T00:00:00Z' });
    expect(doc.NetworkSettings.Ports).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '41000' }] });
    expect(doc.NetworkSettings.Networks).toHaveProperty('default');
    expect(doc.Path).toBe('sh');
    expect(doc.Args).toEqual(['-c', 'echo hi']);
  });

  it('summarises for ps with Docker\'s status text', () => {
    const now = Date.parse('2026-11-30T10:00:35.000Z');
    const row = containerSummary(view, defaultSettings(view), view.image, now);
    expect(row).toMatchObject({ Id: '11111111222233334444555555555555', Names: ['/web'], State: 'running', Status: 'Up 30 seconds', Labels: {} });
    expect(row.Ports).toEqual([{ IP: '127.0.0.1', PrivatePort: 8080, PublicPort: 41000, Type: 'tcp' }]);
    expect(statusText({ ...view, state: 'exited', exitCode: 3, finishedAt: '2026-11-30T10:00:05.000Z' }, now)).toBe('Exited (3) 30 seconds ago');
    expect(statusText({ ...view, state: 'created' }, now)).toBe('Created');
  });
});
