import { describe, expect, it } from 'vitest';
import { ForkdError } from '../contracts/errors.js';
import type { ApiClient } from './api-client.js';
import { followOperation, ProgressPrinter, type OperationView } from './operation-follow.js';

const op = (state: OperationView['state'], percent: number, step: string | null, extra: Partial<OperationView> = {}): OperationView =>
  ({ id: 'op-1', kind: 'container.create', state, progress: { percent, step }, targetId: 'c-1', ...extra });

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (t: string) => out.push(t) } };
}

/** An ApiClient whose long-polls answer from a list, in order. */
function fakeApi(answers: OperationView[]): { api: ApiClient; paths: string[] } {
  const paths: string[] = [];
  const api = { request: async (_m: string, path: string) => { paths.push(path); return { operation: answers.shift() }; } } as unknown as ApiClient;
  return { api, paths };
}

describe('progress on stderr', () => {
  it('writes one line per new step when stderr is not a TTY', () => {
    const { out, stream } = sink(false);
    const p = new ProgressPrinter(stream, 'starting busybox');
    p.show(op('running', 0, 'queued'));
    p.show(op('running', 10, 'template: boot'));
    p.show(op('running', 20, 'template: boot')); // same step: no new line
    p.show(op('running', 75, 'vm'));
    p.end();
    expect(out).toEqual(['forkd: starting busybox: queued (0%)\n', 'forkd: starting busybox: template: boot (10%)\n', 'forkd: starting busybox: vm (75%)\n']);
  });

  it('rewrites a single line on a TTY and clears it at the end', () => {
    const { out, stream } = sink(true);
    const p = new ProgressPrinter(stream, 'building');
    p.show(op('running', 10, 'template: boot'));
    p.show(op('running', 10, 'template: boot')); // nothing new: nothing written
    p.show(op('running', 40, 'template: boot'));
    p.end();
    expect(out).toEqual(['\r\x1b[Kforkd: building: template: boot (10%)', '\r\x1b[Kforkd: building: template: boot (40%)', '\r\x1b[K']);
    expect(out.join('')).not.toContain('\n');
  });
});

describe('following an operation', () => {
  it('long-polls until it succeeds and returns its result', async () => {
    const { api, paths } = fakeApi([op('running', 30, 'template: boot'), op('succeeded', 100, 'running', { result: { id: 'c-1' } })]);
    const { out, stream } = sink(false);
    const result = await followOperation<{ id: string }>(api, op('running', 0, 'queued'), new ProgressPrinter(stream, 'x'));
    expect(result).toEqual({ id: 'c-1' });
    expect(paths).toEqual(['/v1/operations/op-1?waitSec=30', '/v1/operations/op-1?waitSec=30']); // no updatedAt seen yet: no since
    expect(out.length).toBe(2);
  });

  it('throws the operation\'s own error (code and message) when it fails', async () => {
    const { api } = fakeApi([op('failed', 40, 'vm', { error: { code: 'ERR_CONTAINER_START', message: 'exec /no/such/program: not found' } })]);
    const { stream } = sink(false);
    const err = await followOperation(api, op('running', 0, 'queued'), new ProgressPrinter(stream, 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForkdError);
    expect(err).toMatchObject({ code: 'ERR_CONTAINER_START', message: 'exec /no/such/program: not found' });
    // An unknown code from a newer server still fails, as ERR_INTERNAL.
    const { api: api2 } = fakeApi([op('failed', 40, 'vm', { error: { code: 'ERR_FROM_THE_FUTURE', message: 'odd' } })]);
    await expect(followOperation(api2, op('running', 0, 'queued'), new ProgressPrinter(stream, 'x'))).rejects.toMatchObject({ code: 'ERR_INTERNAL', message: 'odd' });
  });
});
