// A job's progress leaves hostd thinned (job-progress.ts): none in a fast
// job's first 300 ms, then at most one per 200 ms, always the latest, none
// after the job ended.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GAP_MS, JobProgress, QUIET_MS, type Progress } from './job-progress.js';

describe('a job\'s progress reports', () => {
  let sent: Array<Progress & { at: number }>;
  let progress: JobProgress;

  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
    sent = [];
    progress = new JobProgress(async (p) => { sent.push({ ...p, at: Date.now() }); }, () => undefined);
  });
  afterEach(() => { progress.close(); vi.useRealTimers(); });

  it('sends nothing for a job that ends within its quiet start', () => {
    progress.report({ percent: 5, step: 'vm' });
    vi.advanceTimersByTime(100);
    progress.report({ percent: 30, step: 'network' });
    vi.advanceTimersByTime(150);
    progress.close();
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([]);
  });

  it('then sends the latest report, at most one per gap', () => {
    progress.report({ percent: 5, step: 'vm' });
    progress.report({ percent: 30, step: 'network' });
    vi.advanceTimersByTime(QUIET_MS);
    expect(sent).toEqual([{ percent: 30, step: 'network', at: QUIET_MS }]);
    progress.report({ percent: 40, step: 'image' });
    progress.report({ percent: 70, step: 'container' });
    vi.advanceTimersByTime(GAP_MS - 1);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent.at(-1)).toEqual({ percent: 70, step: 'container', at: QUIET_MS + GAP_MS });
  });

  it('sends a report that comes after a long silence at once', () => {
    vi.advanceTimersByTime(5000);
    progress.report({ percent: 50, step: 'template: booting' });
    vi.advanceTimersByTime(0);
    expect(sent).toEqual([{ percent: 50, step: 'template: booting', at: 5000 }]);
  });

  it('drops a report still pending when the job ends, and takes none after', () => {
    progress.report({ percent: 5, step: 'vm' });
    progress.close();
    progress.report({ percent: 90, step: 'late' });
    vi.advanceTimersByTime(QUIET_MS * 2);
    expect(sent).toEqual([]);
  });
});
