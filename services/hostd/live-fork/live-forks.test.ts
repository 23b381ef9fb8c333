// A fork an earlier hostd died in is not redone: the children it left (kept
// by adoption) go, with their ports, the fork points nothing uses go, and the
// job fails ERR_INTERRUPTED so the API removes the rows. The same job, not
// interrupted, forks (the control). And a restarted hostd removes old streams.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContainerForkInput } from '../../contracts/jobs.js';
import { createLogger } from '../../contracts/logger.js';
import type { JobContext } from '../job-handlers.js';
import { clearForkStreams, containerForkHandler, containerSnapshotHandler, type LiveForkDeps } from './live-forks.js';
import { rejection } from '../../../test/support.js';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const PARENT = '33333333-3333-4333-8333-333333333333';

function world(adopted: string[]) {
  root = mkdtempSync(join(tmpdir(), 'forkd-live-forks-'));
  const dirs = { templates: join(root, 'templates'), pool: join(root, 'pool') };
  mkdirSync(join(dirs.templates, 'fp-0123456789abcdef'), { recursive: true }); // the dead hostd's half-made fork point
  const vms = new Map<string, { vmId: string; state: string; record: Record<string, unknown> }>(adopted.map((id) => [id, { vmId: id, state: 'running', record: { forkPoint: 'fp-0123456789abcdef' } }]));
  const calls: string[] = [];
  const deps = {
    vms: {
      find: (id: string) => vms.get(id),
      all: () => [...vms.values()],
      destroy: async (id: string) => { calls.push(`destroy ${id}`); return vms.delete(id); },
    },
    ports: { unpublish: async (id: string) => { calls.push(`unpublish ${id}`); } },
    templates: { dirs, delete: async (id: string) => { calls.push(`delete ${id}`); rmSync(join(dirs.templates, id), { recursive: true, force: true }); return true; } },
    log: createLogger('error', {}),
    streamsDir: join(root, 'fork-streams'),
  } as unknown as LiveForkDeps;
  return { deps, calls, templatesLeft: () => readdirSync(dirs.templates) };
}

const input: ContainerForkInput = {
  tenantId: 't',
  parent: { vmId: PARENT, containerId: 'c' },
  children: [{ vmId: A, containerId: 'ca' }, { vmId: B, containerId: 'cb' }],
  ports: [],
};

function ctx(interrupted: boolean): JobContext {
  return { jobId: 'op', log: createLogger('error', {}), progress: async () => undefined, signal: new AbortController().signal, stopping: new AbortController().signal, interrupted };
}

describe('container.fork handed over after a hostd crash', () => {
  it('destroys the children the dead hostd left, sweeps the fork point and fails ERR_INTERRUPTED', async () => {
    const w = world([A]);
    const err = await rejection(containerForkHandler(w.deps)(input, ctx(true)));
    expect(err.code).toBe('ERR_INTERRUPTED');
    expect(err.message).toMatch(/hostd stopped during this fork .*1 half-made child destroyed.*parent runs on/);
    expect(w.calls).toEqual([`unpublish ${A}`, `destroy ${A}`, 'delete fp-0123456789abcdef']);
    expect(w.templatesLeft()).toEqual([]);
  });

  it('is not taken for a crash when it was not one: it goes on to fork (here: no such parent)', async () => {
    const w = world([]);
    const err = await rejection(containerForkHandler(w.deps)(input, ctx(false)));
    expect(err.code).toBe('ERR_CONFLICT'); // parentOf: the parent VM is gone in this fake world
    expect(w.calls.filter((c) => c.startsWith('destroy'))).toEqual([]);
  });
});

describe('container.snapshot handed over after a hostd crash', () => {
  it('deletes its half-made template and fails ERR_INTERRUPTED', async () => {
    const w = world([]);
    const err = await rejection(containerSnapshotHandler(w.deps)({ parent: { vmId: PARENT, containerId: 'c' }, templateId: 'snap' }, ctx(true)));
    expect(err.code).toBe('ERR_INTERRUPTED');
    expect(w.calls).toEqual(['delete snap']);
  });
});

describe('clearForkStreams', () => {
  it('removes streams an earlier hostd left and keeps anything else', async () => {
    root = mkdtempSync(join(tmpdir(), 'forkd-streams-'));
    const dir = join(root, 'fork-streams');
    mkdirSync(dir);
    writeFileSync(join(dir, 'fp-a.stream'), 'x');
    writeFileSync(join(dir, 'README'), 'x');
    expect(await clearForkStreams(dir)).toEqual(['fp-a.stream']);
    expect(readdirSync(dir)).toEqual(['README']);
    expect(await clearForkStreams(join(root, 'new'))).toEqual([]); // made when missing
  });
});
