import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
