import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { assertFitsPod, assertSameSize, POD_CONTAINER_DEFAULTS, POD_DEFAULTS, POD_RESERVED_MIB, podContainerLimits, podSize } from './rules.js';

function refused(fn: () => unknown): ForkdError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ForkdError) return e;
    throw e;
  }
  throw new Error('expected a ForkdError');
}

describe('podSize', () => {
  it('fills the defaults for a name alone', () => {
    expect(podSize({ name: 'app' })).toEqual({ name: 'app', ...POD_DEFAULTS });
  });

  it('takes a size within bounds', () => {
    expect(podSize({ name: 'app', vcpus: 2, memoryMib: 1024, pids: 64 })).toEqual({ name: 'app', vcpus: 2, memoryMib: 1024, pids: 64 });
  });

  it('refuses a bad name or size, naming the field', () => {
    expect(refused(() => podSize({ name: '-x' })).field).toBe('name');
    expect(refused(() => podSize({})).field).toBe('name');
    expect(refused(() => podSize({ name: 'a', vcpus: 0 })).field).toBe('vcpus');
    expect(refused(() => podSize({ name: 'a', memoryMib: 64 })).field).toBe('memoryMib');
    expect(refused(() => podSize({ name: 'a', pids: 1.5 })).field).toBe('pids');
  });
});

describe('podContainerLimits', () => {
  it('limits every pod container, by default as POD_CONTAINER_DEFAULTS', () => {
    expect(podContainerLimits({})).toEqual(POD_CONTAINER_DEFAULTS);
    expect(podContainerLimits({ memoryMib: 10, pids: 5 })).toEqual({ memoryMib: 10, pids: 5 });
  });
});

describe('assertFitsPod', () => {
  const pod = { name: 'app', memoryMib: 512, pids: 100 };
  const free = pod.memoryMib - POD_RESERVED_MIB;

  it('lets a container use exactly the memory and pids left', () => {
    expect(() => assertFitsPod(pod, [{ memoryMib: 100, pids: 40 }], { memoryMib: free - 100, pids: 60 })).not.toThrow();
  });

  it('refuses one MiB more than is left with a 409 naming memoryMib', () => {
    const e = refused(() => assertFitsPod(pod, [{ memoryMib: 100, pids: 40 }], { memoryMib: free - 99, pids: 1 }));
    expect(e.code).toBe('ERR_CONFLICT');
    expect(e.status).toBe(409);
    expect(e.field).toBe('memoryMib');
    expect(e.detail).toMatchObject({ limit: 'memoryMib', freeMib: free - 100 });
  });

  it('refuses a container larger than the whole pod, even when it is empty', () => {
    expect(refused(() => assertFitsPod(pod, [], { memoryMib: pod.memoryMib, pids: 1 })).field).toBe('memoryMib');
  });

  it('refuses one pid more than is left, naming pids', () => {
    expect(() => assertFitsPod(pod, [{ memoryMib: 1, pids: 99 }], { memoryMib: 1, pids: 1 })).not.toThrow();
    const e = refused(() => assertFitsPod(pod, [{ memoryMib: 1, pids: 99 }], { memoryMib: 1, pids: 2 }));
    expect(e.field).toBe('pids');
    expect(e.detail).toMatchObject({ limit: 'pids', freePids: 1 });
  });
});

describe('assertSameSize (a pod is not resized)', () => {
  const pod = { name: 'app', vcpus: 1, memoryMib: 512, pids: 1024 };
  it('answers a request for the size the pod has, or for nothing, as it is', () => {
    expect(() => assertSameSize(pod, {})).not.toThrow();
    expect(() => assertSameSize(pod, { memoryMib: 512, vcpus: 1, pids: 1024 })).not.toThrow();
  });
  it('refuses any change with 409 naming the field and saying what to do instead', () => {
    const e = refused(() => assertSameSize(pod, { vcpus: 1, memoryMib: 1024 }));
    expect(e.code).toBe('ERR_CONFLICT');
    expect(e.field).toBe('memoryMib');
    expect(e.message).toMatch(/fixed when the pod is made \(512\).*pod create/);
    expect(refused(() => assertSameSize(pod, { vcpus: 2 })).field).toBe('vcpus');
    expect(refused(() => assertSameSize(pod, { pids: 64 })).field).toBe('pids');
  });
});
