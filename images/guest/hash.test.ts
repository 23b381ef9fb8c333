import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentId } from './hash.js';

describe('contentId', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forkd-hash-test-'));
    await writeFile(join(dir, 'a'), 'alpha');
    await writeFile(join(dir, 'b'), 'beta');
    await writeFile(join(dir, 'a-copy'), 'alpha');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is stable and independent of input order', async () => {
    const x = await contentId([{ role: 'kernel', file: join(dir, 'a') }, { role: 'script', text: 'echo hi' }]);
    const y = await contentId([{ role: 'script', text: 'echo hi' }, { role: 'kernel', file: join(dir, 'a') }]);
    expect(x.id).toBe(y.id);
    expect(x.id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('depends on content, not on paths', async () => {
    const x = await contentId([{ role: 'kernel', file: join(dir, 'a') }]);
    const y = await contentId([{ role: 'kernel', file: join(dir, 'a-copy') }]);
    const z = await contentId([{ role: 'kernel', file: join(dir, 'b') }]);
    expect(y.id).toBe(x.id);
    expect(z.id).not.toBe(x.id);
  });

  it('changes when a script or a role changes', async () => {
    const base = await contentId([{ role: 'init', text: 'mount /proc' }]);
    expect((await contentId([{ role: 'init', text: 'mount /sys' }])).id).not.toBe(base.id);
    expect((await contentId([{ role: 'agent-sh', text: 'mount /proc' }])).id).not.toBe(base.id);
  });

  it('records what it hashed and rejects duplicate roles', async () => {
    const r = await contentId([{ role: 'kernel', file: join(dir, 'a') }]);
    expect(r.inputs).toEqual([{ role: 'kernel', file: join(dir, 'a'), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    await expect(contentId([{ role: 'k', text: '1' }, { role: 'k', text: '2' }])).rejects.toThrow('duplicate');
  });
});

describe('contentId memo', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forkd-hash-memo-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reuses a remembered digest only while the file is unchanged', async () => {
    const f = join(dir, 'node');
    const memoFile = join(dir, 'memo.json');
    await writeFile(f, 'v20.0');
    const a = await contentId([{ role: 'node', file: f }], { memoFile });
    expect(a.id).toBe((await contentId([{ role: 'node', file: f }])).id);
    // Poison the memo for the current key: a hit must come from the memo.
    const memo = JSON.parse(await readFile(memoFile, 'utf8')) as Record<string, { key: string; sha256: string }>;
    memo[f]!.sha256 = '0'.repeat(64);
    await writeFile(memoFile, JSON.stringify(memo));
    expect((await contentId([{ role: 'node', file: f }], { memoFile })).inputs[0]!.sha256).toBe('0'.repeat(64));
    // Any rewrite changes ctime (and usually size/mtime): the file is hashed again.
    await writeFile(f, 'v20.1');
    const b = await contentId([{ role: 'node', file: f }], { memoFile });
    expect(b.id).not.toBe(a.id);
    expect(b.id).toBe((await contentId([{ role: 'node', file: f }])).id);
  });
});
