import { describe, expect, it } from 'vitest';
import { hostGuardScript } from './host-guard.js';
import { namespaceGuardScript } from './tenant-networks.js';

describe('the host guard (nftables), read as the policy', () => {
  const script = hostGuardScript(['eth0']);

  it('drops everything a guest tap or a network uplink sends to the host itself', () => {
    expect(script).toMatch(/chain input \{[^}]*iifname "fkt\*" counter drop[^}]*iifname "fkh\*" counter drop/s);
  });

  it('never forwards into or out of a guest tap, nor between two networks', () => {
    const fwd = script.slice(script.indexOf('chain forward {'), script.indexOf('table ip forkd_nat {'));
    expect(fwd).toContain('iifname "fkt*" counter drop');
    expect(fwd).toContain('oifname "fkt*" counter drop');
    // Into an uplink only replies; out of one only to the host's own uplinks, everything else dropped.
    expect(fwd).toMatch(/oifname "fkh\*" ct state established,related accept\s+oifname "fkh\*" counter drop/);
    expect(fwd).toMatch(/iifname "fkh\*" oifname \{ "eth0" \} accept\s+iifname "fkh\*" counter drop/);
  });

  it('without uplinks, forwards nothing out of a network', () => {
    expect(hostGuardScript([])).not.toMatch(/accept\s+iifname "fkh\*" counter drop/);
    expect(hostGuardScript([])).toContain('iifname "fkh*" counter drop');
  });

  it('replaces its tables whole, so a restart never leaves half a rule set', () => {
    expect(script.indexOf('delete table inet forkd_guard')).toBeLessThan(script.indexOf('table inet forkd_guard {'));
    expect(script).toContain('ip saddr 100.127.0.0/16 oifname != "fkh*" masquerade');
  });
});

describe('a network namespace\'s own rules', () => {
  it('answer nothing (input policy drop) and let nothing in from the uplink that was not asked for', () => {
    const s = namespaceGuardScript(false);
    expect(s).toContain('type filter hook input priority 0; policy drop;');
    expect(s).toMatch(/iifname "up0" ct state established,related accept\s+iifname "up0" drop/);
    expect(s).toContain('oifname "up0" masquerade');
  });

  it('have no NAT when the network is internal', () => {
    expect(namespaceGuardScript(true)).not.toContain('masquerade');
  });
});
