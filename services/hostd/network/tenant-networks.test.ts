import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimTransit, releaseTransit } from './tenant-networks.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('transit links, claimed machine-wide', () => {
  it('go to the lowest free index, one claim per index, even when claimed at once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'forkd-transit-'));
    const got = await Promise.all(['a', 'b', 'c', 'd'].map((n) => claimTransit(n, dir)));
    expect([...got].sort()).toEqual([0, 1, 2, 3]);
    await releaseTransit(got[1]!, 'b', dir);
    expect(await claimTransit('e', dir)).toBe(got[1]);
  });

  it('are released only by their owner (a claim taken over after a crash stays)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'forkd-transit-'));
    const i = await claimTransit('mine', dir);
    await releaseTransit(i, 'someone-else', dir);
    expect(readFileSync(join(dir, String(i)), 'utf8')).toBe('mine');
  });
});
