import { describe, expect, it } from 'vitest';
import { validate } from '../../contracts/agent-protocol/schema.js';
import { METHODS } from '../../contracts/agent-protocol/messages.js';
import { identityParams } from './guest-identity.js';

describe('the identity every new VM is given', () => {
  it('carries hostname, machine-id, MAC, fresh entropy and the clock', () => {
    const a = identityParams({ hostname: 'vm-a', machineId: 'a'.repeat(32), mac: '0a:f0:4d:00:00:01', nic: 'tap' });
    const b = identityParams({ hostname: 'vm-b', machineId: 'b'.repeat(32), mac: '0a:f0:4d:00:00:02', nic: 'tap' });
    expect(a.mac).toBe('0a:f0:4d:00:00:01');
    expect(a.entropy).not.toBe(b.entropy);
    expect(typeof a.clockEpochMs).toBe('number');
  });

  it('never carries an address: the NIC is configured when it joins a tenant network', () => {
    const a = identityParams({ hostname: 'vm-a', machineId: 'a'.repeat(32), mac: '0a:f0:4d:00:00:01', nic: 'tap' });
    expect(a).not.toHaveProperty('network');
  });

  it('leaves out what the VM has no use for', () => {
    const p = identityParams({ hostname: 'vm-c', machineId: 'c'.repeat(32), mac: null, nic: null, clock: false });
    expect(p).not.toHaveProperty('mac');
    expect(p).not.toHaveProperty('clockEpochMs');
  });

  it('is what the agent protocol accepts', () => {
    const p = identityParams({ hostname: 'vm-d', machineId: 'd'.repeat(32), mac: '0a:f0:4d:00:00:03', nic: 'tap' });
    expect(validate(METHODS['identity.set'].params, p)).toMatchObject({ ok: true });
  });
});
