import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { assertVolumeName, checkLabels, checkVolumeRequests, DEFAULT_VOLUME_MIB, liveHolder, volumeSize } from './rules.js';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ForkdError) return err.field;
    throw err;
  }
  return undefined;
}

describe('volume names', () => {
  it('takes Docker-style names and refuses the rest, naming the field', () => {
    for (const ok of ['data', 'db_1', 'a', 'my.vol-2', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b']) expect(fieldOf(() => assertVolumeName(ok))).toBeUndefined();
    for (const bad of ['', '-x', '.x', 'a/b', 'a b', '../x', 'x'.repeat(65)]) expect(fieldOf(() => assertVolumeName(bad))).toBe('name');
  });
});

describe('volume sizes', () => {
  it('defaults to 1 GiB and keeps whole MiB from 16 to 1 TiB', () => {
    expect(volumeSize(undefined)).toBe(DEFAULT_VOLUME_MIB);
    expect(volumeSize(16)).toBe(16);
    expect(volumeSize(1024 * 1024)).toBe(1024 * 1024);
    for (const bad of [0, 15, 1.5, 1024 * 1024 + 1]) expect(fieldOf(() => volumeSize(bad))).toBe('sizeMib');
  });
});

describe('labels', () => {
  it('keeps string labels and refuses empty keys', () => {
    expect(checkLabels(undefined)).toBeNull();
    expect(checkLabels({ a: 'b' })).toEqual({ a: 'b' });
    expect(fieldOf(() => checkLabels({ '': 'b' }))).toBe('labels');
  });
});

describe('the volumes of a container create', () => {
  it('normalises a trailing slash and defaults readOnly to false', () => {
    expect(checkVolumeRequests([{ volume: 'd', path: '/data/' }, { volume: 'e', path: '/e', readOnly: true }])).toEqual([
      { volume: 'd', path: '/data', readOnly: false },
      { volume: 'e', path: '/e', readOnly: true },
    ]);
    expect(checkVolumeRequests(undefined)).toEqual([]);
  });

  it('names the entry and field of what is wrong', () => {
    expect(fieldOf(() => checkVolumeRequests([{ volume: 'd', path: 'data' }]))).toBe('volumes[0].path');
    expect(fieldOf(() => checkVolumeRequests([{ volume: 'd', path: '/' }]))).toBe('volumes[0].path');
    expect(fieldOf(() => checkVolumeRequests([{ volume: 'd', path: '/a/./b' }]))).toBe('volumes[0].path');
    expect(fieldOf(() => checkVolumeRequests([{ volume: 'd', path: '/a//b' }]))).toBe('volumes[0].path');
    expect(fieldOf(() => checkVolumeRequests([{ volume: 'd', path: '/a/../b' }]))).toBe('volumes[0].path');
    expect(fieldOf(() => checkVolumeRequests([{ volume: 'd', path: '/a' }, { volume: 'e', path: '/a' }]))).toBe('volumes[1].path');
    expect(fieldOf(() => checkVolumeRequests([{ volume: 'd', path: '/a' }, { volume: 'd', path: '/b' }]))).toBe('volumes[1].volume');
    expect(fieldOf(() => checkVolumeRequests([{ volume: 'x/y', path: '/a' }]))).toBe('volumes[0].volume');
    const nine = Array.from({ length: 9 }, (_, i) => ({ volume: `v${i}`, path: `/p${i}` }));
    expect(fieldOf(() => checkVolumeRequests(nine))).toBe('volumes');
    expect(checkVolumeRequests(nine.slice(0, 8))).toHaveLength(8);
  });
});

describe('claims', () => {
  it('hold while the holder\'s VM is live and lapse once it ended', () => {
    const h = { containerId: 'c', containerName: 'web' };
    for (const live of ['creating', 'running', 'paused', 'stopping']) expect(liveHolder({ ...h, vmState: live })).not.toBeNull();
    for (const ended of ['gone', 'failed', 'lost']) expect(liveHolder({ ...h, vmState: ended })).toBeNull();
    expect(liveHolder(null)).toBeNull();
  });
});
