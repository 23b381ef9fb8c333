import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clockPlan, networkCommands, validIPv4Cidr } from './identity.js';
import { findPort } from './port.js';
import { isMountPoint, lowerdirOption, overlayOptions } from './rootfs.js';
import { hostnameFor, transition, type ContainerRecord } from './containers.js';

describe('port discovery', () => {
  it('finds the port by its sysfs name', async () => {
    const d = mkdtempSync(join(tmpdir(), 'forkd-ports-'));
    try {
      for (const [p, n] of [['vport1p1', 'org.qemu.guest_agent.0'], ['vport2p1', 'org.forkd.agent.0']] as const) {
        mkdirSync(join(d, p));
        writeFileSync(join(d, p, 'name'), `${n}\n`);
      }
      mkdirSync(join(d, 'vport3p0'));
      expect(await findPort(d, 'org.forkd.agent.0')).toBe('/dev/vport2p1');
      expect(await findPort(d, 'other')).toBeNull();
      expect(await findPort(join(d, 'missing'), 'x')).toBeNull();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('identity helpers', () => {
  it('plans the clock to land on a whole second', () => {
    expect(clockPlan(1_000_000_250, 0)).toEqual({ waitMs: 750, setSeconds: 1_000_001 });
    expect(clockPlan(1_000_000_000, 0)).toEqual({ waitMs: 0, setSeconds: 1_000_000 });
    expect(clockPlan(1_000_000_900, 50)).toEqual({ waitMs: 50, setSeconds: 1_000_001 });
  });

  it('configures an interface with ip', () => {
    expect(networkCommands({ interface: 'eth0', address: '10.0.0.2/24', gateway: '10.0.0.1' })).toEqual([
      ['ip', 'addr', 'flush', 'dev', 'eth0'],
      ['ip', 'link', 'set', 'dev', 'eth0', 'up'],
      ['ip', 'addr', 'add', '10.0.0.2/24', 'dev', 'eth0'],
      ['ip', 'route', 'replace', 'default', 'via', '10.0.0.1', 'dev', 'eth0'],
    ]);
    // A first join on a link that is up: only the address and the route.
    expect(networkCommands({ interface: 'eth0', address: '10.0.0.2/24', gateway: '10.0.0.1' }, { unaddressed: true, up: true })).toEqual([
      ['ip', 'addr', 'add', '10.0.0.2/24', 'dev', 'eth0'],
      ['ip', 'route', 'replace', 'default', 'via', '10.0.0.1', 'dev', 'eth0'],
    ]);
    expect(networkCommands({ interface: 'eth0', address: '10.0.0.2/24' }, { unaddressed: true, up: false })).toEqual([
      ['ip', 'link', 'set', 'dev', 'eth0', 'up'],
      ['ip', 'addr', 'add', '10.0.0.2/24', 'dev', 'eth0'],
    ]);
    expect(validIPv4Cidr('10.0.0.2/24')).toBe(true);
    expect(validIPv4Cidr('10.0.0.256/24')).toBe(false);
    expect(validIPv4Cidr('10.0.0.1/33')).toBe(false);
  });
});

describe('rootfs and lifecycle helpers', () => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  it('stacks layers top first with relative paths', () => {
    expect(lowerdirOption([a, b])).toBe(`${'b'.repeat(64)}/fs:${'a'.repeat(64)}/fs`);
    expect(overlayOptions([a], '/s/u', '/s/w')).toBe(`lowerdir=${'a'.repeat(64)}/fs,upperdir=/s/u,workdir=/s/w`);
    expect(() => overlayOptions(Array(60).fill(a), '/u', '/w')).toThrow(/too many layers/);
    expect(() => overlayOptions([a], '/u:x', '/w')).toThrow();
  });

  it('reads mount points from mountinfo', () => {
    const mi = '22 1 0:21 / /var/lib/forkd/containers/c1/rootfs rw,relatime - overlay overlay rw\n';
    expect(isMountPoint(mi, '/var/lib/forkd/containers/c1/rootfs')).toBe(true);
    expect(isMountPoint(mi, '/var/lib/forkd/containers/c2/rootfs')).toBe(false);
  });

  it('rejects illegal lifecycle transitions in one place', () => {
    const rec = { id: 'c', status: 'created' } as ContainerRecord;
    transition(rec, 'running');
    expect(() => transition(rec, 'created')).toThrow(/cannot become created/);
    transition(rec, 'exited');
    expect(() => transition(rec, 'running')).toThrow();
  });

  it('derives hostnames', () => {
    expect(hostnameFor('web', 'x')).toBe('web');
    expect(hostnameFor(undefined, 'my_app.1')).toBe('my-app-1');
    expect(hostnameFor(undefined, '___')).toBe('container');
  });
});
