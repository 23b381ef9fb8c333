import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildOnce, MANIFEST } from './cache.js';

describe('buildOnce', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'forkd-cache-test-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const writer = (calls: string[], content = 'x') => async (tmp: string) => {
    calls.push(tmp);
    await writeFile(join(tmp, 'artifact'), content);
    await writeFile(join(tmp, MANIFEST), '{}');
  };

  it('builds once, then returns the finished directory without building', async () => {
    const calls: string[] = [];
    const first = await buildOnce(root, 'abc', writer(calls));
    expect(first).toEqual({ dir: join(root, 'abc'), cached: false });
    const second = await buildOnce(root, 'abc', writer(calls));
    expect(second).toEqual({ dir: join(root, 'abc'), cached: true });
    expect(calls).toHaveLength(1);
    expect(await readFile(join(root, 'abc', 'artifact'), 'utf8')).toBe('x');
    expect(await readdir(root)).toEqual(['abc']); // no temp left behind
  });

  it('builds in a temp directory and publishes it only when complete', async () => {
    let seenDuringBuild: string[] = [];
    await buildOnce(root, 'abc', async (tmp) => {
      seenDuringBuild = await readdir(root);
      expect(tmp.startsWith(join(root, '.tmp-abc-'))).toBe(true);
      await writeFile(join(tmp, MANIFEST), '{}');
    });
    expect(seenDuringBuild.every((n) => n.startsWith('.tmp-'))).toBe(true);
  });

  it('leaves nothing behind when the build fails, and tries again next time', async () => {
    await expect(buildOnce(root, 'abc', async (tmp) => {
      await writeFile(join(tmp, 'half'), 'h');
      throw new Error('mke2fs exploded');
    })).rejects.toThrow('mke2fs exploded');
    expect(await readdir(root)).toEqual([]);
    const calls: string[] = [];
    expect((await buildOnce(root, 'abc', writer(calls))).cached).toBe(false);
  });

  it('refuses a build that does not write the manifest', async () => {
    await expect(buildOnce(root, 'abc', async () => {})).rejects.toThrow(MANIFEST);
    expect(await readdir(root)).toEqual([]);
  });

  it('shares one build between concurrent callers', async () => {
    const calls: string[] = [];
    const [a, b] = await Promise.all([buildOnce(root, 'abc', writer(calls)), buildOnce(root, 'abc', writer(calls))]);
    expect(calls).toHaveLength(1);
    expect(a.dir).toBe(b.dir);
  });

  it('gives way to another process that published the same id first', async () => {
    const result = await buildOnce(root, 'abc', async (tmp) => {
      // Another builder finishes while this one is still working.
      await mkdir(join(root, 'abc'));
      await writeFile(join(root, 'abc', 'artifact'), 'theirs');
      await writeFile(join(root, 'abc', MANIFEST), '{}');
      await writeFile(join(tmp, 'artifact'), 'ours');
      await writeFile(join(tmp, MANIFEST), '{}');
    });
    expect(result).toEqual({ dir: join(root, 'abc'), cached: true });
    expect(await readFile(join(root, 'abc', 'artifact'), 'utf8')).toBe('theirs');
    expect(await readdir(root)).toEqual(['abc']);
  });

  it('removes temp directories of crashed builders and incomplete final directories', async () => {
    await mkdir(join(root, '.tmp-abc-999999999-XyZ123'));
    await mkdir(join(root, 'abc')); // no manifest: a half copy someone made by hand
    await writeFile(join(root, 'abc', 'junk'), 'j');
    const calls: string[] = [];
    expect((await buildOnce(root, 'abc', writer(calls))).cached).toBe(false);
    expect((await readdir(root)).sort()).toEqual(['abc']);
    expect((await readdir(join(root, 'abc'))).sort()).toEqual(['artifact', MANIFEST]);
  });

  it('keeps temp directories of builders that are still running', async () => {
    const live = `.tmp-other-${process.pid}-AbC123`;
    await mkdir(join(root, live));
    await buildOnce(root, 'abc', writer([]));
    expect((await readdir(root)).sort()).toEqual([live, 'abc'].sort());
  });
});
