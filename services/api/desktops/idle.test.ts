import { describe, expect, it } from 'vitest';
import { idleActions } from './idle.js';

const now = new Date('2026-12-01T01:00:00Z');
const ago = (sec: number) => new Date(now.getTime() - sec * 1000);
const settings = { idleSec: 1800, warnSec: 300 };
const row = (id: string, idleSec: number, warned = false, containerId: string | null = 'c') => ({ id, lastActiveAt: ago(idleSec), idleWarnedAt: warned ? ago(1) : null, containerId });

describe('the idle sweep', () => {
  it('warns once in the last warnSec, removes at idleSec, leaves fresh ones alone', () => {
    const rows = [row('fresh', 60), row('warn', 1600), row('warned', 1600, true), row('old', 1800)];
    expect(idleActions(rows, () => false, settings, now)).toEqual({ warn: ['warn'], remove: ['old'], touch: [] });
  });

  it('never removes a desktop a browser has open: its clock restarts', () => {
    expect(idleActions([row('open', 99_999)], (id) => id === 'open', settings, now)).toEqual({ warn: [], remove: [], touch: ['open'] });
  });

  it('skips desktops still being created, and does nothing when the timeout is 0', () => {
    expect(idleActions([row('new', 99_999, false, null)], () => false, settings, now).remove).toEqual([]);
    expect(idleActions([row('old', 99_999)], () => false, { idleSec: 0, warnSec: 0 }, now).remove).toEqual([]);
  });
});
