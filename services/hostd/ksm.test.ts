import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { enableKsm, ksmStatus } from './ksm.js';

describe('KSM', () => {
  it('is reported as absent where the host has no KSM', async () => {
    expect(await ksmStatus('/nonexistent/ksm')).toEqual({ available: false, running: false, pagesSharing: 0, pagesShared: 0 });
    expect(await enableKsm('/nonexistent/ksm')).toBe(false);
  });

  it('reads the counters and can be switched on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forkd-ksm-'));
    writeFileSync(join(dir, 'run'), '0\n');
    writeFileSync(join(dir, 'pages_sharing'), '120\n');
    writeFileSync(join(dir, 'pages_shared'), '30\n');
    expect(await ksmStatus(dir)).toEqual({ available: true, running: false, pagesSharing: 120, pagesShared: 30 });
    expect(await enableKsm(dir)).toBe(true);
    expect(readFileSync(join(dir, 'run'), 'utf8')).toBe('1');
    rmSync(dir, { recursive: true, force: true });
  });
});
