import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { networkScript } from './identity.js';
import { peerLines, rewriteInPlace } from './peers.js';

describe('peer names in hosts files', () => {
  it('are one line per address', () => {
    expect(peerLines([{ address: '10.89.1.2', names: ['web', 'vm-a'] }, { address: '10.89.1.3', names: [] }])).toBe('10.89.1.2\tweb vm-a\n');
  });

  it('are written in place, so a bind mount of the file sees the new text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forkd-peers-'));
    try {
      const f = join(dir, 'hosts');
      writeFileSync(f, 'a much longer old text than the new one\n');
      const inode = statSync(f).ino;
      await rewriteInPlace(f, 'new\n');
      expect(readFileSync(f, 'utf8')).toBe('new\n');
      expect(statSync(f).ino).toBe(inode);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the guest network as one shell script', () => {
  it('runs the same commands, each word quoted', () => {
    expect(networkScript({ interface: 'eth0', address: '10.0.0.2/24', gateway: '10.0.0.1' })).toBe(
      "'ip' 'addr' 'flush' 'dev' 'eth0' && 'ip' 'link' 'set' 'dev' 'eth0' 'up' && 'ip' 'addr' 'add' '10.0.0.2/24' 'dev' 'eth0' && 'ip' 'route' 'replace' 'default' 'via' '10.0.0.1' 'dev' 'eth0'",
    );
  });
});
