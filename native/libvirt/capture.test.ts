import { describe, expect, it } from 'vitest';

import { ErrorLedger } from './capture.js';
import type { RawLibvirtError } from './errors.js';

const err = (code: number, message = `e${code}`): RawLibvirtError => ({
  code,
  domain: 10,
  message,
  level: 2,
  str1: null,
  str2: null,
  str3: null,
  int1: 0,
  int2: 0,
});

describe('ErrorLedger', () => {
  it('gives a failed call the error recorded on its scope during its flight', () => {
    const l = new ErrorLedger();
    const t = l.begin(3);
    l.record(3, err(42));
    expect(l.claim(t)?.code).toBe(42);
    l.end(t);
    expect(l.size).toEqual({ entries: 0, inFlight: 0 });
  });

  it('never hands out an error recorded before the call started', () => {
    const l = new ErrorLedger();
    const early = l.begin(1);
    l.record(1, err(1));
    const late = l.begin(1);
    expect(l.claim(late)).toBeNull();
    expect(l.claim(early)?.code).toBe(1);
    l.end(late);
    l.end(early);
  });

  it('keeps scopes apart', () => {
    const l = new ErrorLedger();
    const a = l.begin(1);
    const b = l.begin(2);
    l.record(2, err(20));
    l.record(1, err(10));
    expect(l.claim(b)?.code).toBe(20);
    expect(l.claim(a)?.code).toBe(10);
    l.end(a);
    l.end(b);
  });

  it('falls back to connection-less errors only when no connection-less call could own them', () => {
    const l = new ErrorLedger();
    const open = l.begin(0);
    const call = l.begin(5);
    l.record(0, err(38));
    expect(l.claim(call)).toBeNull();
    expect(l.claim(open)?.code).toBe(38);
    l.end(open);
    l.record(0, err(7));
    expect(l.claim(call)?.code).toBe(7);
    l.end(call);
  });

  it('drops errors nobody can claim once calls finish', () => {
    const l = new ErrorLedger();
    const a = l.begin(1);
    l.record(1, err(1));
    l.record(9, err(9));
    l.end(a);
    expect(l.size.entries).toBe(0);
    l.record(1, err(2)); // recorded with nothing in flight
    const b = l.begin(1);
    l.end(b);
    expect(l.size.entries).toBe(0);
  });
});
