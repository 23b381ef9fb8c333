import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { currentMac, findNic, macCommands } from './nic.js';

const made: string[] = [];

function sysNet(ifaces: Record<string, { device?: boolean; address?: string }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'forkd-nic-'));
  made.push(dir);
  for (const [name, i] of Object.entries(ifaces)) {
    mkdirSync(join(dir, name));
    if (i.device) symlinkSync('/', join(dir, name, 'device'));
    if (i.address) writeFileSync(join(dir, name, 'address'), `${i.address}\n`);
  }
  return dir;
}

afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('nic', () => {
  it('picks the first non-loopback interface, device-backed ones first', async () => {
    expect(await findNic(sysNet({ lo: {}, sit0: {}, eth0: { device: true }, eth1: { device: true } }))).toBe('eth0');
    expect(await findNic(sysNet({ lo: {}, dummy0: {} }))).toBe('dummy0');
  });

  it('uses the named interface, and reports none when it or any NIC is missing', async () => {
    const d = sysNet({ lo: {}, eth0: { device: true }, eth1: { device: true } });
    expect(await findNic(d, 'eth1')).toBe('eth1');
    expect(await findNic(d, 'eth7')).toBeNull();
    expect(await findNic(sysNet({ lo: {} }))).toBeNull();
    expect(await findNic('/nonexistent/sys/class/net')).toBeNull();
  });

  it('reads the current MAC', async () => {
    const d = sysNet({ eth0: { device: true, address: '0A:F0:4D:00:00:01' }, eth1: {} });
    expect(await currentMac(d, 'eth0')).toBe('0a:f0:4d:00:00:01');
    expect(await currentMac(d, 'eth1')).toBeNull();
  });

  it('takes the link down to change the MAC and brings it up; only up when it is already set', () => {
    expect(macCommands('eth0', '0a:f0:4d:00:00:02', '0a:f0:4d:00:00:01')).toEqual([
      ['ip', 'link', 'set', 'dev', 'eth0', 'down'],
      ['ip', 'link', 'set', 'dev', 'eth0', 'address', '0a:f0:4d:00:00:02'],
      ['ip', 'link', 'set', 'dev', 'eth0', 'up'],
    ]);
    expect(macCommands('eth0', '0a:f0:4d:00:00:02', '0a:f0:4d:00:00:02')).toEqual([['ip', 'link', 'set', 'dev', 'eth0', 'up']]);
  });
});
