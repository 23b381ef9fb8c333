import { describe, expect, it } from 'vitest';
import { AgentError } from '../contracts/agent-protocol/index.js';
import { assertFitsBeside, memTotalMib } from './pod-fit.js';

describe('memTotalMib', () => {
  it('reads MemTotal in MiB', () => {
    expect(memTotalMib('MemTotal:         491520 kB\nMemFree:  1 kB\n')).toBe(480);
  });
  it('is null when there is no MemTotal line', () => {
    expect(memTotalMib('')).toBeNull();
  });
});

describe('assertFitsBeside', () => {
  it('lets a lone container take any limit, as in a one-container VM', () => {
    expect(() => assertFitsBeside([], { memoryMib: 10_000 }, 400)).not.toThrow();
  });

  it('lets a second container use exactly what the others leave', () => {
    expect(() => assertFitsBeside([{ memoryMib: 100 }, {}], { memoryMib: 300 }, 400)).not.toThrow();
  });

  it('refuses one MiB more, as ERR_CONFLICT naming memoryMib', () => {
    let err: unknown;
    try {
      assertFitsBeside([{ memoryMib: 100 }], { memoryMib: 301 }, 400);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe('ERR_CONFLICT');
    expect((err as AgentError).detail).toEqual({ field: 'memoryMib' });
  });

  it('does not judge an unlimited container (app templates) or an unknown total', () => {
    expect(() => assertFitsBeside([{ memoryMib: 400 }], {}, 400)).not.toThrow();
    expect(() => assertFitsBeside([{ memoryMib: 400 }], { memoryMib: 400 }, null)).not.toThrow();
  });
});
